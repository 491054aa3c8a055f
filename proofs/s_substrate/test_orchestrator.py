"""S-8…S-10: the auto-instantiate orchestrator (migration 033) and its event type.

Oracle for digest_matches_template: hashlib over the pieces' canonical text
(``proofs/_model.py``, see S-7) against the template digest stored at
registration. Branches: a template whose pieces are unchanged (true, live and
dry run) and one whose piece was edited after registration (false, live and
dry run); the edit must then show as drift of exactly the older instance of
that template in ``v_iu_digest_drift`` and turn the digest_drift surface red.
"""

import re

import pytest

from proofs import _model as model
from proofs._substrate import INTERNAL_EVENT_TYPE, counts, healthcheck, instantiate, sqlstate_of

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
    evidence.expect("returned (instance id, dry_run)", have=[row[0], row[4]], want=[None, True])
    evidence.record("returned", row)


@pytest.mark.claim("S-9")
def test_a_live_instantiation_writes_exactly_its_rows_and_reverts_on_rollback(rolled_back, evidence):
    """A live instantiation (gate opened in the transaction) writes exactly its rows; rollback reverts rows and gate."""
    with rolled_back() as db:
        before = counts(db, WRITES)
        gate_before = db.execute("SELECT fn_iu_core_gate(%s)", [GATE]).fetchone()[0]
        db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [GATE])
        instance_id, code, kind, matches, dry = instantiate(db, TEMPLATE)
        evidence.expect("returned dry_run", have=dry, want=False)
        version = db.execute("SELECT max(version) FROM iu_collection_template WHERE code = %s", [TEMPLATE]).fetchone()[
            0
        ]
        evidence.expect_where(
            "default instance code",
            code,
            lambda c: re.fullmatch(rf"{re.escape(TEMPLATE)}-v{version}-[0-9a-f]{{8}}", c) is not None,
            f"{TEMPLATE}-v{version}- and 8 hex digits",
        )
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


@pytest.mark.claim("S-9")
def test_a_piece_edited_after_registration_makes_the_instance_digest_differ_and_shows_as_drift(db, evidence):
    """A piece edited after its template's registration: digest_matches_template false, older instance drifts."""
    db.execute("UPDATE information_unit SET body = body || ' (edited)' WHERE code = 'TPL-P13'")
    db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [GATE])
    template = db.execute(
        "SELECT piece_codes, template_digest FROM iu_collection_template WHERE code = 'WF-AUDIT' AND version = 1"
    ).fetchone()
    bodies = model.bodies(db, template[0])
    now_digest = model.pieces_digest([(c, bodies[c]) for c in template[0]])
    evidence.expect_true("the edit changed the pieces' digest (hashlib)", now_digest != template[1])
    edited_dry = instantiate(db, "WF-AUDIT", dry_run=True)
    edited = instantiate(db, "WF-AUDIT", instance_code="S9-EDITED")
    control = instantiate(db, "WF-REVIEW", instance_code="S9-CONTROL")
    control_dry = instantiate(db, "WF-REVIEW", dry_run=True)
    evidence.expect(
        "digest_matches_template (edited live, edited dry run, unedited live, unedited dry run)",
        have=[edited[3], edited_dry[3], control[3], control_dry[3]],
        want=[False, False, True, True],
    )
    lineage = db.execute(
        "SELECT template_digest, instance_digest FROM iu_collection_template_instance_lineage "
        "WHERE instance_collection_id = %s",
        [edited[0]],
    ).fetchone()
    evidence.expect("lineage (template digest, instance digest)", have=list(lineage), want=[template[1], now_digest])
    audit = db.execute(
        "SELECT dry_run, digest_matches_template FROM iu_auto_instantiate_event_log "
        "WHERE template_code = 'WF-AUDIT' AND triggered_by = 'iu-prove' ORDER BY dry_run"
    ).fetchall()
    evidence.expect("audit rows (dry_run, digest_matches_template)", have=audit, want=[(False, False), (True, False)])
    drift = [r[0] for r in db.execute("SELECT instance_code FROM v_iu_digest_drift ORDER BY 1").fetchall()]
    evidence.expect("instances in v_iu_digest_drift", have=drift, want=["BULK12-WF-AUDIT-v1"])
    surface = {s: (ok, detail) for s, ok, detail in healthcheck(db)}.get("digest_drift", (None, ""))
    evidence.expect(
        "digest_drift surface (ok, names the drifted instance)",
        have=[surface[0], "BULK12-WF-AUDIT-v1" in surface[1]],
        want=[False, True],
        rows=[surface[1]],
    )


AUDIT_VIEW_SQL = """
SELECT id, template_id, template_kind, lineage_id FROM v_iu_auto_instantiate_event_log WHERE triggered_by = %s
"""
AUDIT_RAW_SQL = """
SELECT a.id,
       (SELECT t.id FROM iu_collection_template t WHERE t.code = a.template_code AND t.version = a.template_version),
       (SELECT t.kind FROM iu_collection_template t WHERE t.code = a.template_code AND t.version = a.template_version),
       (SELECT l.id FROM iu_collection_template_instance_lineage l
         WHERE l.instance_collection_id = a.instance_collection_id)
  FROM iu_auto_instantiate_event_log a WHERE a.triggered_by = %s
"""


@pytest.mark.claim("S-9")
def test_the_audit_view_lists_every_audit_row_once_with_or_without_its_template_and_lineage(db, evidence):
    """The audit view lists each audit row once: live, dry run (no lineage), and one naming no template."""
    actor = "iu-prove-s9-audit-view"
    db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, %s)", [GATE, actor])
    instantiate(db, TEMPLATE, actor)
    instantiate(db, TEMPLATE, actor, dry_run=True)
    db.execute(
        "INSERT INTO iu_auto_instantiate_event_log (template_code, template_version, triggered_by, dry_run) "
        "VALUES ('S9-NO-SUCH-TEMPLATE', 1, %s, true)",
        [actor],
    )
    have = sorted(tuple(map(str, r)) for r in db.execute(AUDIT_VIEW_SQL, [actor]).fetchall())
    want = sorted(tuple(map(str, r)) for r in db.execute(AUDIT_RAW_SQL, [actor]).fetchall())
    evidence.expect("audit rows of the actor (raw)", have=len(want), want=3)
    evidence.expect(
        "rows without a template or a lineage (raw)",
        have=[sum(r[1] == "None" for r in want), sum(r[3] == "None" for r in want)],
        want=[1, 2],
    )
    evidence.expect("view rows (id, template id, kind, lineage id)", have=have, want=want)
