"""F-4: the control — the same worker call delivers a live-lane event with an
enabled route, so F-2/F-3 do not pass on a dead worker.

Oracle: the delivery rule written out in Python (``delivers``): the gate is
true, the type is listed in ``iu_core.delivery_live_routes`` (comma-separated,
blanks trimmed, exact match), its lane is live and it has an enabled route;
one log row per enabled route.
Conditions, each removed alone from the control, stops delivery: the gate,
the listing (absent, a prefix, an extension, another case), the lane, the
route (disabled, none, only another type's). A disabled route beside an
enabled one gets no row, nor does another type's enabled route; with nothing
listed (empty or only blanks and commas) the worker returns exactly 0.
Boundaries: ``p_limit`` 1 with two deliverable events delivers exactly 1;
``p_limit`` equal to their number delivers both; ``p_limit`` NULL, 0 and -1
are refused (IU006, naming the value) and deliver nothing. Scope: an event
already delivered (``delivered_at`` set) is never delivered again.
"""

from __future__ import annotations

import json

import pytest

from proofs._substrate import sqlstate_of
from proofs.f_event_boundary import _boundary as fb

CONTROL_TYPE = "iu.proof.f4_control_live"
CONTROL_ROUTE = "https://f4.invalid/control"
OTHER_TYPE = "iu.proof.f4_other_live"
OTHER_ROUTE = "https://f4.invalid/other"


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


def delivers(gate: bool, listed: str, event_type: str, lane: str, routes: dict[str, bool]) -> list[str]:
    """The delivery rule as the design states it: the routes an event is delivered to (none: not delivered)."""
    listing = [t.strip() for t in listed.split(",") if t.strip()]
    if not gate or event_type not in listing or lane != "live":
        return []
    return sorted(route for route, enabled in routes.items() if enabled)


CONTROL = {
    "gate": True,
    "listed": f" {CONTROL_TYPE} ,{fb.EVENT_TYPE}",
    "lane": "live",
    "routes": {CONTROL_ROUTE: True},
    "other_routes": {},
}
# each condition of the rule removed alone (and the look-alikes of a listing)
ALONE = {
    "control (every condition holds)": {},
    "delivery gate false": {"gate": False},
    "type not listed": {"listed": fb.EVENT_TYPE},
    "nothing listed": {"listed": ""},
    "only blanks and commas listed": {"listed": " , ,"},
    "only a prefix of the type listed": {"listed": CONTROL_TYPE[:-1]},
    "the type with a suffix listed": {"listed": CONTROL_TYPE + "_x"},
    "the type in another case listed": {"listed": CONTROL_TYPE.upper()},
    "lane internal": {"lane": "internal"},
    "route disabled": {"routes": {CONTROL_ROUTE: False}},
    "no route": {"routes": {}},
    "only another type has an enabled route": {"routes": {}, "other_routes": {OTHER_ROUTE: True}},
    "another type's enabled route beside this one's": {"other_routes": {OTHER_ROUTE: True}},
    "a disabled route beside an enabled one": {"routes": {CONTROL_ROUTE: True, CONTROL_ROUTE + "/off": False}},
}


@pytest.mark.claim("F-4")
@pytest.mark.parametrize("case", list(ALONE), ids=lambda c: c.replace(" ", "-"))
def test_each_delivery_condition_removed_alone_stops_delivery(db, evidence, case):
    """With one delivery condition removed (gate, listing, lane, enabled route), the worker delivers nothing."""
    world = {**CONTROL, **ALONE[case]}
    db.execute(
        "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in, description)"
        " VALUES (%s, %s, 'proof F-4', 'control: one condition at a time')",
        [CONTROL_TYPE, world["lane"]],
    )
    for route, enabled in world["routes"].items():
        db.execute(
            "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, %s)",
            [CONTROL_TYPE, route, enabled],
        )
    if world["other_routes"]:
        db.execute(
            "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in, description)"
            " VALUES (%s, 'live', 'proof F-4', 'control: another live-lane type')",
            [OTHER_TYPE],
        )
    for route, enabled in world["other_routes"].items():
        db.execute(
            "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, %s)", [OTHER_TYPE, route, enabled]
        )
    fb.set_gate(db, "iu_core.delivery_enabled", "true" if world["gate"] else "false")
    fb.set_gate(db, "iu_core.delivery_live_routes", json.dumps(world["listed"]))
    outbox_id = db.execute(
        "INSERT INTO event_outbox (event_type, payload) VALUES (%s, '{}') RETURNING id", [CONTROL_TYPE]
    ).fetchone()[0]
    delivered = db.execute("SELECT fn_event_outbox_deliver(1000)").fetchone()[0]
    logged = [r[0] for r in db.execute(
        "SELECT route FROM event_outbox_delivery_log WHERE outbox_id = %s ORDER BY route", [outbox_id]
    ).fetchall()]  # fmt: skip
    want = delivers(world["gate"], world["listed"], CONTROL_TYPE, world["lane"], world["routes"])
    evidence.record("world", world)
    evidence.expect("events delivered", have=delivered, want=1 if want else 0)
    evidence.expect("delivery log routes of the event", have=logged, want=want)


@pytest.mark.claim("F-4")
def test_the_worker_delivers_at_most_its_limit(db, evidence):
    """p_limit 1 with two deliverable events delivers exactly one, oldest first; p_limit 2 then delivers the other."""
    deliverable_world(db)
    ids = [
        db.execute(
            "INSERT INTO event_outbox (event_type, payload, created_at) VALUES (%s, '{}', now() - %s::interval) "
            "RETURNING id",
            [CONTROL_TYPE, age],
        ).fetchone()[0]
        for age in ("2 seconds", "1 second")
    ]
    first = db.execute("SELECT fn_event_outbox_deliver(1)").fetchone()[0]
    after_first = db.execute(
        "SELECT id FROM event_outbox WHERE id = ANY(%s) AND delivered_at IS NOT NULL", [ids]
    ).fetchall()
    evidence.expect("delivered with p_limit 1", have=first, want=1)
    evidence.expect("the one delivered is the oldest", have=[r[0] for r in after_first], want=ids[:1])
    evidence.expect(
        "delivered with p_limit 2 (one left)",
        have=db.execute("SELECT fn_event_outbox_deliver(2)").fetchone()[0],
        want=1,
    )
    evidence.expect(
        "delivered once more (none left)", have=db.execute("SELECT fn_event_outbox_deliver(1)").fetchone()[0], want=0
    )


def deliverable_world(db) -> None:
    """Gates open and the control type live, listed and routed: every event of it is deliverable."""
    db.execute(
        "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in, description)"
        " VALUES (%s, 'live', 'proof F-4', 'control: deliverable')",
        [CONTROL_TYPE],
    )
    db.execute(
        "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, true)", [CONTROL_TYPE, CONTROL_ROUTE]
    )
    fb.set_gate(db, "iu_core.delivery_enabled", "true")
    fb.set_gate(db, "iu_core.delivery_live_routes", json.dumps(CONTROL_TYPE))


DELIVERY_STATE = "SELECT id, delivered_at FROM event_outbox ORDER BY id"
DELIVERY_LOG = "SELECT count(*) FROM event_outbox_delivery_log"


@pytest.mark.claim("F-4")
@pytest.mark.parametrize("limit", [None, 0, -1], ids=lambda v: f"p_limit={v}")
def test_a_limit_below_one_or_null_is_refused_and_delivers_nothing(db, evidence, limit):
    """p_limit NULL, 0 or -1 is refused (IU006, naming the value) and delivers nothing, with a deliverable event."""
    deliverable_world(db)
    db.execute("INSERT INTO event_outbox (event_type, payload) VALUES (%s, '{}')", [CONTROL_TYPE])
    before = (db.execute(DELIVERY_STATE).fetchall(), db.execute(DELIVERY_LOG).fetchone()[0])
    state, message = sqlstate_of(db, "SELECT fn_event_outbox_deliver(%s)", [limit])
    evidence.expect("SQLSTATE", have=state, want="IU006", note=message)
    shown = "NULL" if limit is None else str(limit)
    evidence.expect_true(f"the message names the value ({shown})", f"(got {shown})" in message, rows=[message])
    after = (db.execute(DELIVERY_STATE).fetchall(), db.execute(DELIVERY_LOG).fetchone()[0])
    evidence.expect("outbox delivery state and delivery log rows", have=after, want=before)


@pytest.mark.claim("F-4")
def test_an_event_already_delivered_is_not_delivered_again(db, evidence):
    """An event already delivered (delivered_at set) is neither logged nor re-stamped; only the undelivered one is."""
    deliverable_world(db)
    old_id, stamped = db.execute(
        "INSERT INTO event_outbox (event_type, payload, created_at, delivered_at)"
        " VALUES (%s, '{}', now() - interval '2 hours', now() - interval '1 hour') RETURNING id, delivered_at",
        [CONTROL_TYPE],
    ).fetchone()
    new_id = db.execute(
        "INSERT INTO event_outbox (event_type, payload) VALUES (%s, '{}') RETURNING id", [CONTROL_TYPE]
    ).fetchone()[0]
    delivered = db.execute("SELECT fn_event_outbox_deliver(1)").fetchone()[0]
    logged = db.execute(
        "SELECT outbox_id FROM event_outbox_delivery_log WHERE outbox_id IN (%s, %s)", [old_id, new_id]
    ).fetchall()
    evidence.expect("delivered with p_limit 1 (the undelivered event)", have=delivered, want=1)
    evidence.expect("delivery log rows of the two events", have=[r[0] for r in logged], want=[new_id])
    evidence.expect(
        "delivered_at of the event delivered before",
        have=db.execute("SELECT delivered_at FROM event_outbox WHERE id = %s", [old_id]).fetchone()[0],
        want=stamped,
    )
    evidence.expect(
        "delivered once more (none left)", have=db.execute("SELECT fn_event_outbox_deliver(5)").fetchone()[0], want=0
    )
