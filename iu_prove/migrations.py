"""The migration runner: ``sql/migrations/NNN_verb_object.sql`` in order.

Each file runs whole in its own transaction and is recorded with its sha256 in
the ledger table. An applied migration whose file has changed since is an error
that names it; nothing is applied past it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from iu_prove import config, paths
from iu_prove.errors import SetupError

LEDGER = "iu_core_schema_migration"
FILENAME = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql$")

LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE {LEDGER} IS 'Applied IU core migrations and the sha256 of each file as applied.';
"""


# Set locally in every migration's transaction, so a migration waiting on a lock
# held by live traffic gives up instead of queueing every other session behind it.
MIGRATION_TIMEOUTS = {
    "lock_timeout": config.env("IU_MIGRATE_LOCK_TIMEOUT"),
    "statement_timeout": config.env("IU_MIGRATE_STATEMENT_TIMEOUT"),
}


class MigrationError(SetupError):
    pass


class ChecksumMismatch(MigrationError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = paths.MIGRATIONS) -> list[Migration]:
    """Every migration file in order; a misnamed or duplicated number is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_verb_object.sql")
        version = match["version"]
        if version in found:
            raise MigrationError(f"migration {version} appears twice: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, match["name"], path)
    return [found[v] for v in sorted(found)]


def ledger_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", [LEDGER]).fetchone()[0]


def applied(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    """version -> (name, sha256) of what the ledger says is applied."""
    if not ledger_exists(conn):
        return {}
    rows = conn.execute(f"SELECT version, name, sha256 FROM {LEDGER} ORDER BY version").fetchall()
    return {v: (n, s) for v, n, s in rows}


def head(conn: psycopg.Connection) -> str | None:
    done = applied(conn)
    return max(done) if done else None


def verify(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Check applied files against the ledger; return the pending migrations in order."""
    done = applied(conn)
    known = {m.version: m for m in migrations}
    unknown = sorted(set(done) - set(known))
    if unknown:
        raise MigrationError(f"the database has migration(s) {', '.join(unknown)} that this checkout does not have")
    for version, (_name, sha) in done.items():
        mig = known[version]
        if mig.sha256 != sha:
            raise ChecksumMismatch(
                f"migration {mig.path.name} changed after it was applied "
                f"(ledger sha256 {sha[:12]}…, file {mig.sha256[:12]}…): "
                "never edit an applied migration, add a new one"
            )
    pending = [m for m in migrations if m.version not in done]
    if pending and done and pending[0].version < max(done):
        raise MigrationError(
            f"migration {pending[0].path.name} is older than the applied head {max(done)}: renumber it after the head"
        )
    return pending


def apply(
    conn: psycopg.Connection,
    migrations: list[Migration] | None = None,
    *,
    upto: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Migration]:
    """Apply every pending migration (up to ``upto``), each in its own transaction."""
    migrations = discover() if migrations is None else migrations
    with conn.transaction():
        conn.execute(LEDGER_DDL)
    pending = verify(conn, migrations)
    if upto is not None:
        pending = [m for m in pending if m.version <= upto]
    conn.commit()  # end verify()'s implicit read transaction: each migration is a top-level transaction
    for mig in pending:
        if progress:
            progress(f"applying {mig.path.name}")
        try:
            with conn.transaction():
                for name, value in MIGRATION_TIMEOUTS.items():
                    conn.execute("SELECT set_config(%s, %s, true)", [name, value])
                conn.execute(mig.sql)
                conn.execute(
                    f"INSERT INTO {LEDGER} (version, name, sha256) VALUES (%s, %s, %s)",
                    [mig.version, mig.name, mig.sha256],
                )
        except psycopg.Error as exc:
            raise MigrationError(f"{mig.path.name} failed: {str(exc).strip()}") from exc
    return pending
