"""S-8…S-10: the auto-instantiate orchestrator (migration 033) and its event type."""

import pytest

from iu_prove.substrate import INTERNAL_EVENT_TYPE, counts, instantiate, sqlstate_of

GATE = "iu_core.auto_instantiate_enabled"
WRITES = [
    "information_unit",
    "iu_piece_membership",
    "iu_collection_template_instance_lineage",
    "iu_auto_instantiate_event_log",
    "event_outbox",
    "iu_three_axis_envelope",
    "iu_three_axis_envelope_refresh_log",
]
TEMPLATE = "WF-ONBOARD"  # v2 is the latest: 4 pieces


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {t: after[t] - before[t] for t in before}


@pytest.mark.claim("S-8")
def test_a_live_call_with_the_gate_closed_is_refused_and_writes_nothing(db, evidence):
    """A live orchestrator call with its gate closed is refused (IU002) and writes nothing."""
    before = counts(db, WRITES)
    state, message = sqlstate_of(
        db, "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, 'iu-prove', false)", [TEMPLATE]
    )
    evidence.expect("SQLSTATE", have=state, want="IU002", note=message)
    evidence.record("message", message)
    evidence.expect("rows written", have=delta(before, counts(db, WRITES)), want=dict.fromkeys(WRITES, 0))


@pytest.mark.claim("S-8")
def test_a_dry_run_writes_only_its_audit_row(db, evidence):
    """The orchestrator's dry run writes exactly one audit row (dry_run = true) and nothing else."""
    before = counts(db, WRITES)
    row = instantiate(db, TEMPLATE, dry_run=True)
    want = dict.fromkeys(WRITES, 0) | {"iu_auto_instantiate_event_log": 1}
    evidence.expect("rows written", have=delta(before, counts(db, WRITES)), want=want)
    audit = db.execute(
        "SELECT dry_run, triggered_by, instance_collection_id FROM iu_auto_instantiate_event_log "
        "ORDER BY occurred_at DESC LIMIT 1"
    ).fetchone()
    evidence.expect("audit row (dry_run, triggered_by, instance)", have=list(audit), want=[True, "iu-prove", None])
    evidence.record("returned", row)


@pytest.mark.claim("S-9")
def test_a_live_instantiation_writes_exactly_its_rows_and_reverts_on_rollback(rolled_back, evidence):
    """A live instantiation (gate opened in the transaction) writes exactly its rows; rollback reverts rows and gate."""
    with rolled_back() as db:
        before = counts(db, WRITES)
        gate_before = db.execute("SELECT fn_iu_core_gate(%s)", [GATE]).fetchone()[0]
        db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [GATE])
        instance_id, code, kind, matches, _dry = instantiate(db, TEMPLATE)
        pieces = db.execute(
            "SELECT cardinality(piece_codes) FROM iu_collection_template WHERE code = %s ORDER BY version DESC LIMIT 1",
            [TEMPLATE],
        ).fetchone()[0]
        want = dict.fromkeys(WRITES, 0) | {
            "information_unit": 1,
            "iu_piece_membership": pieces,
            "iu_collection_template_instance_lineage": 1,
            "iu_auto_instantiate_event_log": 1,
            "event_outbox": 1,
        }
        evidence.expect("rows written", have=delta(before, counts(db, WRITES)), want=want)
        evidence.expect("digest_matches_template", have=matches, want=True)
        outbox = db.execute("SELECT event_type FROM event_outbox WHERE aggregate_id = %s", [instance_id]).fetchall()
        evidence.expect("outbox event type", have=[r[0] for r in outbox], want=[INTERNAL_EVENT_TYPE])
        evidence.record("instance", {"code": code, "kind": kind, "memberships": pieces})
    with rolled_back() as db:
        evidence.expect("row counts after rollback", have=counts(db, WRITES), want=before)
        evidence.expect(
            "gate after rollback", have=db.execute("SELECT fn_iu_core_gate(%s)", [GATE]).fetchone()[0], want=gate_before
        )


@pytest.mark.claim("S-10")
@pytest.mark.readonly
def test_the_instance_event_type_is_registered_internal_with_no_route(db, evidence):
    """iu.template.instance_auto_composed is registered on the internal lane with no route."""
    lanes = db.execute(
        "SELECT delivery_lane FROM event_type_registry WHERE event_type = %s", [INTERNAL_EVENT_TYPE]
    ).fetchall()
    evidence.expect("registry rows (lane)", have=[r[0] for r in lanes], want=["internal"])
    routes = db.execute(
        "SELECT route, enabled FROM route_registry WHERE event_type = %s", [INTERNAL_EVENT_TYPE]
    ).fetchall()
    evidence.expect_no_rows("routes keyed to the event type", routes)
