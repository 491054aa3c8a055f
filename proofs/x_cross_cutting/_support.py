"""Shared helpers of the cross-cutting (X) proofs: batches, fingerprints, actors."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import psycopg
from hypothesis import strategies as st
from psycopg import sql

from iu_prove import fingerprint as fingerprint_mod
from proofs import _substrate as substrate
from proofs._substrate import gate_open as gate
from proofs._substrate import (
    scalar,  # noqa: F401
    sqlstate_of,  # noqa: F401  (re-exported for the X proofs)
)

AUDIT = "iu_auto_instantiate_event_log"
LINEAGE = "iu_collection_template_instance_lineage"
VECTOR = "iu_vector_point"
BACKGROUND_ACTOR = "iu-core-12x-bulk"
RETENTION_FIXTURE_ACTOR = "iu-core-retention-fixture"
GATE_INSTANTIATE = "iu_core.auto_instantiate_enabled"
GATE_REFRESH = "iu_core.three_axis_auto_refresh_enabled"
GATE_RETENTION = "iu_core.retention_enabled"
GATE_ACTOR = "iu-prove-x"

_ACTOR_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-."


def actors(prefix: str = "iu-x-") -> st.SearchStrategy[str]:
    """Exact actor names no fixture uses (the prefix keeps them apart)."""
    return st.text(alphabet=_ACTOR_CHARS, min_size=1, max_size=24).map(lambda s: prefix + s)


def look_alike(actor: str, kind: str) -> str:
    """Another actor that a sloppy match (prefix, LIKE, case) would confuse with ``actor``."""
    return {
        "suffix": actor + "-other",
        "prefix": actor[:-1] if len(actor) > 1 else actor + "x",
        "upper": actor.upper(),
        "wrapped": "x" + actor,
    }[kind]


LOOK_ALIKES = ("suffix", "prefix", "upper", "wrapped")


def set_gate(conn: psycopg.Connection, key: str, value: bool) -> None:
    """Toggle a gate inside the proof's (rolled-back) transaction, as the X proofs' actor."""
    substrate.set_gate(conn, key, value, GATE_ACTOR)


def templates(conn: psycopg.Connection) -> list[tuple[str, int, str]]:
    """Every template (code, version, kind), workflow first, in a fixed order."""
    rows = conn.execute("SELECT code, version, kind FROM iu_collection_template ORDER BY kind DESC, code, version")
    return [(r[0], r[1], r[2]) for r in rows.fetchall()]


def instantiate_batch(conn: psycopg.Connection, actor: str, n: int, *, dry_runs: int = 0) -> list[uuid.UUID]:
    """``n`` live instances (templates in turn, workflow and file mixed) plus ``dry_runs`` dry runs for ``actor``,
    the orchestrator's gate opened for the batch and closed again, all inside the caller's transaction."""
    tpls = templates(conn)
    was_open = gate(conn, GATE_INSTANTIATE)
    if n and not was_open:
        set_gate(conn, GATE_INSTANTIATE, True)
    ids: list[uuid.UUID] = []
    for i in range(n):
        code, version, _ = tpls[i % len(tpls)]
        row = conn.execute(
            "SELECT instance_id, digest_matches_template FROM dot_iu_auto_instantiate_from_event(%s, %s, false, %s)",
            [code, actor, version],
        ).fetchone()
        ids.append(row[0])
    for i in range(dry_runs):
        code, version, _ = tpls[i % len(tpls)]
        conn.execute("SELECT * FROM dot_iu_auto_instantiate_from_event(%s, %s, true, %s)", [code, actor, version])
    if n and not was_open:
        set_gate(conn, GATE_INSTANTIATE, False)
    return ids


def instance_ids(conn: psycopg.Connection, actor: str) -> set[uuid.UUID]:
    """The actor's instance collections, read from the lineage table."""
    rows = conn.execute(f"SELECT instance_collection_id FROM {LINEAGE} WHERE actor = %s", [actor]).fetchall()
    return {r[0] for r in rows}


def ids_of(conn: psycopg.Connection, table: str, where: str = "true", params: Iterable[Any] = ()) -> set[uuid.UUID]:
    query = sql.SQL("SELECT id FROM {} WHERE ").format(sql.Identifier(table)) + sql.SQL(where)
    return {r[0] for r in conn.execute(query, list(params)).fetchall()}


def fingerprint(conn: psycopg.Connection, table: str) -> tuple[int | None, str | None]:
    """Row count and md5 of the table (``iu_prove.fingerprint.of_table``): equal iff the table is
    unchanged; a large table costs what was written, not what it holds (the count is None for a
    large table inside a proof's transaction, compared by what was written since its first look)."""
    fp = fingerprint_mod.of_table(conn, table)
    return fp.rows, fp.md5


def fingerprints(conn: psycopg.Connection, tables: Iterable[str]) -> dict[str, tuple[int, str]]:
    return {t: fingerprint(conn, t) for t in tables}


def retention_tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT table_name FROM iu_core_retention_policy ORDER BY 1").fetchall()]
