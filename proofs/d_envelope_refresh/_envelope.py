"""Shared names and helpers of the D proofs (envelope auto-refresh on auto-compose, 036)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg

from proofs import _model as model
from proofs._substrate import (  # noqa: F401  (the D proofs' vocabulary)
    AUDIT,
    DIRTY,
    ERROR_LOG,
    INSTANTIATE_GATE,
    LINEAGE,
    PROOF_ACTOR,
    REFRESH_GATE,
    REFRESH_LOG,
    scalar,
    set_gate,
)

TRIGGER = "trg_iu_lineage_envelope_refresh"
TRIGGER_FUNCTION = "fn_iu_trg_lineage_envelope_refresh"
REASON = "iu_auto_instantiate_trigger"
SURFACE = "envelope_lineage_trigger"
SURFACE_FUNCTION = "fn_iu_hc_envelope_lineage_trigger"
SURFACE_POSITION = 90
TEMPLATE = "WF-ONBOARD"  # latest version 2: four pieces
TRIGGER_LINE = f"+ trigger {TRIGGER} on {LINEAGE}"

# pg_trigger.tgtype bits
TG_ROW, TG_BEFORE, TG_INSERT, TG_DELETE, TG_UPDATE, TG_TRUNCATE, TG_INSTEAD = 1, 2, 4, 8, 16, 32, 64


def open_gates(db: psycopg.Connection, *, refresh: bool) -> None:
    """Inside the proof's transaction: live instantiation allowed, auto-refresh as asked."""
    set_gate(db, INSTANTIATE_GATE, True)
    set_gate(db, REFRESH_GATE, refresh)


def gate_values(db: psycopg.Connection) -> dict[str, Any]:
    return {key: scalar(db, "SELECT fn_iu_core_config_get(%s)", [key]) for key in (REFRESH_GATE, INSTANTIATE_GATE)}


def rows(db: psycopg.Connection, table: str) -> int:
    return int(scalar(db, f"SELECT count(*) FROM {table}"))


def new_refresh_rows(db: psycopg.Connection) -> list[tuple[str, int, list[uuid.UUID]]]:
    """Refresh-log rows written by this transaction (clock time at or after its start), oldest first."""
    return [
        (r[0], r[1], list(r[2]))
        for r in db.execute(
            f"SELECT reason, refreshed_count, refreshed_collections FROM {REFRESH_LOG} "
            "WHERE occurred_at >= now() ORDER BY occurred_at, id"
        ).fetchall()
    ]


def new_error_rows(db: psycopg.Connection) -> list[dict[str, Any]]:
    """Trigger error-log rows written by this transaction, oldest first."""
    return [
        {"source": r[0], "sqlstate": r[1], "message": r[2], "lineage_id": r[3], "context": r[4]}
        for r in db.execute(
            f"SELECT source, sqlstate, message, lineage_id, context FROM {ERROR_LOG} "
            "WHERE occurred_at >= now() ORDER BY occurred_at, id"
        ).fetchall()
    ]


def dirty_ids(db: psycopg.Connection) -> set[uuid.UUID]:
    return {r[0] for r in db.execute(f"SELECT collection_id FROM {DIRTY}").fetchall()}


def lineage_id(db: psycopg.Connection, instance_id: uuid.UUID) -> uuid.UUID | None:
    return scalar(db, f"SELECT id FROM {LINEAGE} WHERE instance_collection_id = %s", [instance_id])  # type: ignore[return-value]


def cached_and_computed(db: psycopg.Connection, collection_id: uuid.UUID) -> tuple[list[int] | None, list[int]]:
    """(cached envelope or None, the envelope by the Python model of the rule) of one collection."""
    cached = db.execute(
        "SELECT axis_a_count, axis_b_count, axis_c_count FROM iu_three_axis_envelope WHERE collection_id = %s",
        [collection_id],
    ).fetchone()
    return (list(cached) if cached else None), model.envelope(db, collection_id)


def surface(db: psycopg.Connection, name: str = SURFACE) -> tuple[bool, str] | None:
    row = db.execute("SELECT ok, detail FROM dot_iu_healthcheck() WHERE surface = %s", [name]).fetchone()
    return (row[0], row[1]) if row else None


def backlog_count(detail: str) -> int:
    """The dirty count the envelope_backlog surface reports ('0 dirty collections', 'N dirty collection(s)…')."""
    match = re.match(r"^(\d+) dirty collection", detail)
    if not match:
        raise AssertionError(f"envelope_backlog detail has no dirty count: {detail!r}")
    return int(match[1])


def outcome_of(db: psycopg.Connection, query: str, params: list[object]) -> tuple[str, Any]:
    """Run ``query`` in a savepoint: ("succeeded", first row) or ("raised <SQLSTATE>: <message>", None)."""
    try:
        with db.transaction():
            row = db.execute(query, params).fetchone()
    except psycopg.Error as exc:
        return f"raised {exc.sqlstate}: {(exc.diag.message_primary or str(exc)).strip()}", None
    return "succeeded", row


def instantiate_live(db: psycopg.Connection, template: str = TEMPLATE, **kw: Any) -> tuple:
    """One live orchestrator call; returns (instance_id, instance_code, template_kind, digest_matches, dry_run)."""
    return db.execute(
        "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, %s, false, %s, %s)",
        [template, kw.get("actor", PROOF_ACTOR), kw.get("version"), kw.get("instance_code")],
    ).fetchone()
