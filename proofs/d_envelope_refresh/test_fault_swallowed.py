"""D-4: a refresh fault inside the trigger is swallowed into
iu_three_axis_envelope_trigger_error_log and never breaks the orchestrator.

Faults are injected by transactional DDL inside the proof's own transaction
(rolled back with it); nothing in the shipped SQL exists for testing."""

import uuid

import pytest

from proofs._substrate import scalar
from proofs.d_envelope_refresh._envelope import (
    AUDIT,
    ERROR_LOG,
    LINEAGE,
    REASON,
    REFRESH_GATE,
    REFRESH_LOG,
    TEMPLATE,
    TRIGGER,
    dirty_ids,
    lineage_id,
    new_error_rows,
    open_gates,
    outcome_of,
    rows,
)

INSTANTIATE = "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, 'iu-prove', false)"
TABLES = (LINEAGE, AUDIT, "event_outbox", REFRESH_LOG, ERROR_LOG)


def inject(db, function: str, token: str) -> None:
    """Replace one envelope function with one that raises P0001 (rolled back with the proof)."""
    signatures = {
        "fn_iu_three_axis_envelope_refresh_if_stale": ("p_reason text", "boolean"),
        "fn_iu_three_axis_envelope_store": ("p_collection_ids uuid[]", "int"),
    }
    args, returns = signatures[function]
    db.execute(
        f"CREATE OR REPLACE FUNCTION {function}({args}) RETURNS {returns} LANGUAGE plpgsql AS "
        f"$inject$ BEGIN RAISE EXCEPTION 'injected envelope fault {token}'; END $inject$"
    )


def live_call(db, evidence) -> uuid.UUID:
    """One live instantiation in a savepoint; the orchestrator must succeed."""
    outcome, row = outcome_of(db, INSTANTIATE, [TEMPLATE])
    evidence.expect("orchestrator call", have=outcome, want="succeeded")
    return row[0]


@pytest.mark.claim("D-4")
@pytest.mark.intrusive
def test_a_refresh_fault_is_logged_and_the_orchestrator_still_succeeds(db, evidence):
    """A raising refresh: the orchestrator succeeds, lineage present, error log +1 with the error, refresh log +0."""
    token = uuid.uuid4().hex[:12]
    inject(db, "fn_iu_three_axis_envelope_refresh_if_stale", token)
    open_gates(db, refresh=True)
    before = {t: rows(db, t) for t in TABLES}

    instance_id = live_call(db, evidence)
    lineage = lineage_id(db, instance_id)
    evidence.expect_true("lineage row present", lineage is not None)
    delta = {t: rows(db, t) - n for t, n in before.items()}
    evidence.expect(
        "rows written", have=delta, want={LINEAGE: 1, AUDIT: 1, "event_outbox": 1, REFRESH_LOG: 0, ERROR_LOG: 1}
    )
    logged = new_error_rows(db)
    evidence.expect("error-log rows written", have=len(logged), want=1, rows=logged)
    row = logged[0]
    evidence.expect(
        "error-log row",
        have={k: row[k] for k in ("source", "sqlstate", "message", "lineage_id")},
        want={
            "source": TRIGGER,
            "sqlstate": "P0001",
            "message": f"injected envelope fault {token}",
            "lineage_id": lineage,
        },
    )
    context = row["context"] or {}
    evidence.expect(
        "error-log context (reason, lineage instance)",
        have=[context.get("reason"), (context.get("lineage") or {}).get("instance_collection_id")],
        want=[REASON, str(instance_id)],
    )
    evidence.expect_true("instance left dirty for a later refresh", instance_id in dirty_ids(db))


@pytest.mark.claim("D-4")
@pytest.mark.intrusive
def test_a_fault_midway_through_a_refresh_leaves_no_partial_refresh(db, evidence):
    """A fault after the dirty marks are taken rolls the refresh back whole: marks kept, no envelope, error log +1."""
    token = uuid.uuid4().hex[:12]
    inject(db, "fn_iu_three_axis_envelope_store", token)
    open_gates(db, refresh=True)
    dieu = scalar(db, "SELECT id FROM information_unit WHERE code = 'DIEU'")
    db.execute("SELECT fn_iu_three_axis_envelope_mark_dirty(ARRAY[%s]::uuid[], 'proof: stale')", [dieu])
    dieu_envelope = db.execute("SELECT * FROM iu_three_axis_envelope WHERE collection_id = %s", [dieu]).fetchone()
    before = {t: rows(db, t) for t in (REFRESH_LOG, ERROR_LOG)}
    dirty_before = dirty_ids(db)

    instance_id = live_call(db, evidence)
    evidence.expect("dirty set after the fault", have=dirty_ids(db), want=dirty_before | {instance_id})
    cached = scalar(db, "SELECT count(*) FROM iu_three_axis_envelope WHERE collection_id = %s", [instance_id])
    evidence.expect("instance envelope rows", have=cached, want=0)
    evidence.expect(
        "DIEU envelope row untouched",
        have=db.execute("SELECT * FROM iu_three_axis_envelope WHERE collection_id = %s", [dieu]).fetchone(),
        want=dieu_envelope,
    )
    delta = {t: rows(db, t) - n for t, n in before.items()}
    evidence.expect("rows written", have=delta, want={REFRESH_LOG: 0, ERROR_LOG: 1})
    logged = new_error_rows(db)
    evidence.expect(
        "logged fault",
        have=[(r["sqlstate"], r["message"]) for r in logged],
        want=[("P0001", f"injected envelope fault {token}")],
    )


@pytest.mark.claim("D-4")
@pytest.mark.intrusive
def test_a_gate_holding_a_non_boolean_is_logged_as_a_fault_not_read_as_false(db, evidence):
    """A non-boolean auto-refresh gate is logged (IU006), never read as false; the orchestrator succeeds."""
    open_gates(db, refresh=True)
    db.execute("UPDATE iu_core_config SET value = '\"yes\"'::jsonb WHERE key = %s", [REFRESH_GATE])
    before = {t: rows(db, t) for t in (REFRESH_LOG, ERROR_LOG)}
    live_call(db, evidence)
    delta = {t: rows(db, t) - n for t, n in before.items()}
    evidence.expect("rows written", have=delta, want={REFRESH_LOG: 0, ERROR_LOG: 1})
    logged = new_error_rows(db)
    evidence.expect("logged SQLSTATE", have=[r["sqlstate"] for r in logged], want=["IU006"])
    evidence.record("logged message", [r["message"] for r in logged])
