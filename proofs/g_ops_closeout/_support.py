"""Helpers shared by the G proofs: table fingerprints, retention snapshots,
psql output parsing and pg_dump contents."""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from iu_prove import fingerprint as fingerprint_mod
from iu_prove.dsn import connect

RETENTION_GATE = "iu_core.retention_enabled"


def public_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
        "AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    ).fetchall()
    return [r[0] for r in rows]


def fingerprint(conn: psycopg.Connection, tables: list[str] | None = None) -> dict[str, tuple[int | None, str | None]]:
    """(row count, md5) per public table (``iu_prove.fingerprint.of_table``: exact, and a large
    table costs what was written rather than what it holds)."""
    found: dict[str, tuple[int | None, str | None]] = {}
    for name in tables if tables is not None else public_tables(conn):
        fp = fingerprint_mod.of_table(conn, name)
        found[name] = (fp.rows, fp.md5)
    return found


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per public table (cheap enough for a staging database)."""
    query = sql.SQL("SELECT count(*) FROM {}")
    return {t: conn.execute(query.format(sql.Identifier("public", t))).fetchone()[0] for t in public_tables(conn)}


def fingerprint_of(dsn: str, tables: list[str] | None = None) -> dict[str, tuple[int, str]]:
    with connect(dsn, autocommit=True) as conn:
        return fingerprint(conn, tables)


def fingerprint_delta(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[list]:
    """Tables whose count or content differs: [table, count before, count after]."""
    names = sorted(set(before) | set(after))
    return [
        [n, (before.get(n) or (None,))[0], (after.get(n) or (None,))[0]] for n in names if before.get(n) != after.get(n)
    ]


@dataclass(frozen=True)
class Policy:
    table: str
    column: str
    retain: dt.timedelta
    enabled: bool


def policies(conn: psycopg.Connection) -> list[Policy]:
    rows = conn.execute(
        "SELECT table_name, timestamp_column, retain, enabled FROM iu_core_retention_policy ORDER BY table_name"
    ).fetchall()
    return [Policy(t, c, r, e) for t, c, r, e in rows]


def rows_by_id(conn: psycopg.Connection, policy: Policy) -> dict[str, dt.datetime]:
    """id -> timestamp of every row of a policy's table (all policy tables have a uuid id)."""
    query = sql.SQL("SELECT id::text, {} FROM {}").format(
        sql.Identifier(policy.column), sql.Identifier("public", policy.table)
    )
    return {str(i): ts for i, ts in conn.execute(query).fetchall()}


def db_now(conn: psycopg.Connection) -> dt.datetime:
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def gate_row(conn: psycopg.Connection, key: str = RETENTION_GATE) -> tuple:
    return conn.execute("SELECT value, updated_by FROM iu_core_config WHERE key = %s", [key]).fetchone()


def parse_psql_table(output: str, first_column: str) -> list[dict[str, str]]:
    """Rows of the first aligned psql table whose header starts with ``first_column``."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split("|")]
        if cells and cells[0] == first_column and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("-+"):
            rows = []
            for row in lines[i + 2 :]:
                if "|" not in row:
                    break
                rows.append(dict(zip(cells, (c.strip() for c in row.split("|")), strict=False)))
            return rows
    return []


def dump_rows(dump: Path) -> dict[str, list[str]]:
    """Every COPY data line per table of a custom-format dump (pg_restore --data-only)."""
    text = subprocess.run(
        ["pg_restore", "--data-only", "-f", "-", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    tables: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if current is None:
            if line.startswith("COPY ") and line.endswith(" FROM stdin;"):
                current = line.split(" ", 2)[1]
                tables[current] = []
        elif line == "\\.":
            current = None
        else:
            tables[current].append(line)
    return tables
