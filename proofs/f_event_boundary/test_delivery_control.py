"""F-4: the control — the same worker call delivers a live-lane event with an
enabled route, so F-2/F-3 do not pass on a dead worker."""

from __future__ import annotations

import pytest

from proofs.f_event_boundary import _boundary as fb

pytestmark = pytest.mark.head("038")  # skipped on a database behind this migration

CONTROL_TYPE = "iu.proof.f4_control_live"
CONTROL_ROUTE = "https://f4.invalid/control"


@pytest.mark.claim("F-4")
def test_a_live_lane_event_with_an_enabled_route_is_delivered(db, evidence):
    """Control: gates open, a live-lane type with an enabled route is delivered (+1); the internal type is not."""
    db.execute(
        "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in, description)"
        " VALUES (%s, 'live', 'proof F-4', 'control: a live-lane type')",
        [CONTROL_TYPE],
    )
    db.execute(
        "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, true)", [CONTROL_TYPE, CONTROL_ROUTE]
    )
    fb.set_gate(db, "iu_core.delivery_enabled", "true")
    fb.set_gate(db, "iu_core.delivery_live_routes", f'"{CONTROL_TYPE},{fb.EVENT_TYPE}"')
    log_before = db.execute("SELECT count(*) FROM event_outbox_delivery_log").fetchone()[0]
    control_id = db.execute(
        "INSERT INTO event_outbox (event_type, payload) VALUES (%s, '{}') RETURNING id", [CONTROL_TYPE]
    ).fetchone()[0]
    internal_id = db.execute(
        "INSERT INTO event_outbox (event_type, payload) VALUES (%s, '{}') RETURNING id", [fb.EVENT_TYPE]
    ).fetchone()[0]
    delivered = db.execute("SELECT fn_event_outbox_deliver(1000)").fetchone()[0]
    log_after = db.execute("SELECT count(*) FROM event_outbox_delivery_log").fetchone()[0]
    evidence.expect("worker delivered", have=delivered, want=1)
    evidence.before_after("delivery log rows", log_before, log_after)
    evidence.expect("delivery log delta", have=log_after - log_before, want=1)
    new_log = db.execute(
        "SELECT outbox_id, event_type, route FROM event_outbox_delivery_log WHERE outbox_id IN (%s, %s)",
        [control_id, internal_id],
    ).fetchall()
    evidence.expect(
        "delivery log rows for the two probe events",
        have=[(str(o), t, r) for o, t, r in new_log],
        want=[(str(control_id), CONTROL_TYPE, CONTROL_ROUTE)],
        rows=new_log,
    )
    state = dict(
        db.execute(
            "SELECT event_type, delivered_at IS NOT NULL FROM event_outbox WHERE id IN (%s, %s)",
            [control_id, internal_id],
        ).fetchall()
    )
    evidence.expect(
        "delivered (control live type, internal type)", have=state, want={CONTROL_TYPE: True, fb.EVENT_TYPE: False}
    )
