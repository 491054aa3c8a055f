"""Table fingerprints: what a schema's tables hold, comparable before and after.

A table's fingerprint is its row count and the md5 of its rows rendered as
text, newline-joined in text order::

    SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")) FROM tbl t

so it ignores physical row order and changes with any inserted, deleted or
updated row (every column, generated ones included). Two fingerprints of a
schema taken in the same transaction, or in two sessions, are equal exactly when
no table's content differs.

    before = fingerprint.of_schema(conn)
    ...                                  # the code under test
    changed = fingerprint.diff(before, fingerprint.of_schema(conn))
    assert not changed, fingerprint.describe(changed)

Cost: one full scan and sort per table; meant for the substrate's small tables
(fixtures, a proof's batch), not for production-sized ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

TABLES_SQL = """
SELECT c.relname
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
 ORDER BY c.relname COLLATE "C"
"""


@dataclass(frozen=True)
class TableFingerprint:
    """Row count and md5 of one table's rows (``md5`` is None for an empty table)."""

    rows: int
    md5: str | None

    def __str__(self) -> str:
        return f"{self.rows} rows, md5 {self.md5[:12] if self.md5 else '-'}"


Fingerprints = dict[str, TableFingerprint]
Changes = dict[str, tuple[TableFingerprint | None, TableFingerprint | None]]


def tables(conn: psycopg.Connection, schema: str = "public") -> list[str]:
    """Ordinary and partitioned tables of ``schema`` (partitions folded into their parent), by name."""
    return [r[0] for r in conn.execute(TABLES_SQL, [schema]).fetchall()]


def of_table(conn: psycopg.Connection, table: str, schema: str = "public") -> TableFingerprint:
    """The fingerprint of one table."""
    query = sql.SQL(
        "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\")) FROM {}.{} AS t"
    ).format(sql.Identifier(schema), sql.Identifier(table))
    rows, digest = conn.execute(query).fetchone()
    return TableFingerprint(int(rows), digest)


def of_schema(conn: psycopg.Connection, schema: str = "public", exclude: Iterable[str] = ()) -> Fingerprints:
    """``{table: TableFingerprint}`` for every table of ``schema`` but those in ``exclude``."""
    skip = set(exclude)
    return {name: of_table(conn, name, schema) for name in tables(conn, schema) if name not in skip}


def diff(before: Mapping[str, TableFingerprint], after: Mapping[str, TableFingerprint]) -> Changes:
    """Tables whose fingerprint differs (or that appeared or vanished): ``{table: (before, after)}``."""
    return {
        name: (before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def describe(changes: Changes) -> list[str]:
    """One readable line per changed table, e.g. ``information_unit: 79 rows, md5 3f… -> 80 rows, md5 9a…``."""
    return [f"{name}: {b or 'absent'} -> {a or 'absent'}" for name, (b, a) in changes.items()]


def counts(prints: Mapping[str, TableFingerprint]) -> dict[str, int]:
    """``{table: row count}`` of a schema fingerprint (for evidence)."""
    return {name: fp.rows for name, fp in prints.items()}
