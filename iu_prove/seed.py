"""The fixture corpus: ``fixtures/seed/*.sql`` loaded in name order."""

from __future__ import annotations

from pathlib import Path

import psycopg

from iu_prove import paths
from iu_prove.errors import SetupError

# The fixtures are present when these rows are: the DIEU collection and the
# background actor whose instances rollback-by-actor proofs must spare.
PRESENCE_SQL = """
SELECT EXISTS (SELECT 1 FROM information_unit WHERE code = 'DIEU')
   AND EXISTS (SELECT 1 FROM iu_collection_template_instance_lineage WHERE actor = 'iu-core-12x-bulk')
"""


class SeedError(SetupError):
    pass


def files(directory: Path = paths.SEED) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def script(directory: Path = paths.SEED) -> str:
    """All fixture files as one script (for loading inside a rolled-back transaction)."""
    return "\n".join(f.read_text() for f in files(directory))


def load(conn: psycopg.Connection, directory: Path = paths.SEED) -> int:
    """Load each fixture file in its own transaction; return how many were loaded."""
    loaded = 0
    conn.commit()  # each file in a top-level transaction of its own, not a savepoint of the caller's
    for path in files(directory):
        try:
            with conn.transaction():
                conn.execute(path.read_text())
        except psycopg.Error as exc:
            raise SeedError(f"fixture {path.name} failed: {str(exc).strip()}") from exc
        loaded += 1
    return loaded


def present(conn: psycopg.Connection) -> bool:
    try:
        with conn.transaction():
            return bool(conn.execute(PRESENCE_SQL).fetchone()[0])
    except psycopg.errors.UndefinedTable:
        return False
