"""F-5: an accidental route on the internal type turns the boundary red, and
unregister_internal_routes.sql restores green removing only internal-lane routes.

Oracle: the routes read straight from the tables before the script, split by
their type's lane in Python. Branches: an enabled and a disabled route on the
internal type (both accidental, both removed), an enabled and a disabled route
on a live-lane type (both kept: a route's ``enabled`` flag never decides).
"""

from __future__ import annotations

import pytest

from iu_prove.dsn import connect
from iu_prove.evidence import Evidence
from iu_prove.fix_ops import PsqlRunner
from proofs._substrate import count, sqlstate_of
from proofs.f_event_boundary import _boundary as fb

ACCIDENTAL_ROUTE = "https://f5.invalid/accidental-hook"
LIVE_TYPE = "iu.proof.f5_live"
LIVE_ROUTE = "https://f5.invalid/live-hook"
LIVE_ROUTE_OFF = "https://f5.invalid/live-hook-disabled"
ACCIDENTAL_ROUTE_OFF = "https://f5.invalid/accidental-hook-disabled"
PROOF_ROUTES = [ACCIDENTAL_ROUTE, ACCIDENTAL_ROUTE_OFF, LIVE_ROUTE, LIVE_ROUTE_OFF]
ROUTES_SQL = """
SELECT r.event_type, e.delivery_lane, r.route
  FROM route_registry r JOIN event_type_registry e USING (event_type)
 ORDER BY 1, 3
"""


def _surface(dsn: str) -> tuple[bool, str]:
    with connect(dsn) as conn:
        row = conn.execute("SELECT ok, detail FROM dot_iu_healthcheck() WHERE surface = %s", [fb.SURFACE]).fetchone()
        conn.rollback()
    return (row[0], row[1]) if row else (False, "surface missing from dot_iu_healthcheck()")


def _state(dsn: str) -> tuple[list[tuple], int]:
    with connect(dsn) as conn:
        routes = [tuple(r) for r in conn.execute(ROUTES_SQL).fetchall()]
        logged = conn.execute("SELECT count(*) FROM route_registry_removal_log").fetchone()[0]
        conn.rollback()
    return routes, logged


@pytest.mark.claim("F-5")
@pytest.mark.durable
def test_an_accidental_route_turns_red_and_the_rollback_script_restores_green(fresh_database, psql, evidence):
    """An internal-type route turns script and healthcheck red; the rollback script restores green, live routes kept."""
    dsn = fresh_database
    try:
        _prove_rollback_path(dsn, psql, evidence)
    finally:
        _remove_proof_rows(dsn)


def _remove_proof_rows(dsn: str) -> None:
    """Leave a reused scratch database as found: the proof's routes, type and removal-log rows go."""
    with connect(dsn) as conn:
        conn.execute("DELETE FROM route_registry WHERE route = ANY(%s)", [PROOF_ROUTES])
        conn.execute("DELETE FROM event_type_registry WHERE event_type = %s", [LIVE_TYPE])
        conn.execute(
            "DELETE FROM route_registry_removal_log WHERE removed_by = %s AND route = ANY(%s)",
            [fb.ACTOR, PROOF_ROUTES],
        )
        conn.commit()


def _prove_rollback_path(dsn: str, psql: PsqlRunner, evidence: Evidence) -> None:
    routes_before, logged_before = _state(dsn)
    with connect(dsn) as conn:
        conn.execute(
            "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in)"
            " VALUES (%s, 'live', 'proof F-5')",
            [LIVE_TYPE],
        )
        conn.execute("INSERT INTO route_registry (event_type, route) VALUES (%s, %s)", [LIVE_TYPE, LIVE_ROUTE])
        conn.execute(
            "INSERT INTO route_registry (event_type, route) VALUES (%s, %s)", [fb.EVENT_TYPE, ACCIDENTAL_ROUTE]
        )
        for event_type, route in ((LIVE_TYPE, LIVE_ROUTE_OFF), (fb.EVENT_TYPE, ACCIDENTAL_ROUTE_OFF)):
            conn.execute(
                "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, false)", [event_type, route]
            )
        conn.commit()
    routes_registered, _ = _state(dsn)
    internal_routes = [r for r in routes_registered if r[1] == "internal"]
    evidence.record("routes after the accidental registration", routes_registered)
    evidence.expect(
        "the proof's routes on the internal type (enabled and disabled)",
        have=[r[2] for r in internal_routes if r[2] in PROOF_ROUTES],
        want=[ACCIDENTAL_ROUTE, ACCIDENTAL_ROUTE_OFF],
    )

    red = psql.run(fb.PROOF_SCRIPT, dsn=dsn)
    red_error = fb.error_line(red)
    evidence.record("proof script error", red_error)
    evidence.expect_where("proof script exit (route registered)", red.returncode, lambda rc: rc != 0, "non-zero")
    evidence.expect("facts named broken", have=fb.named_facts(red_error), want=["no_route"], rows=[red_error])
    evidence.expect("proof script names the route", have=ACCIDENTAL_ROUTE in red_error, want=True, rows=[red_error])
    hc_ok, hc_detail = _surface(dsn)
    evidence.record("healthcheck detail (route registered)", hc_detail)
    evidence.expect("healthcheck ok (route registered)", have=hc_ok, want=False, rows=[hc_detail])
    evidence.expect("healthcheck names the route", have=ACCIDENTAL_ROUTE in hc_detail, want=True, rows=[hc_detail])

    dry = psql.run(fb.UNREGISTER_SCRIPT, dsn=dsn)
    evidence.expect("dry run exit", have=dry.returncode, want=0, rows=[str(dry)])
    dry_list = dry.stdout.split("DRY RUN done")[0]
    listed = [r for r in routes_registered if r[2] in dry_list]
    evidence.expect("dry run lists exactly the internal-lane routes", have=listed, want=internal_routes)
    evidence.expect("dry run changes nothing", have=_state(dsn), want=(routes_registered, logged_before))

    live = psql.run(fb.UNREGISTER_SCRIPT, dsn=dsn, live="true", actor=fb.ACTOR)
    evidence.expect("live run exit", have=live.returncode, want=0, rows=[str(live)])
    summary = fb.key_values(live.stdout, "unregister_internal_routes LIVE done:")
    others = len([r for r in routes_registered if r[1] != "internal"])
    evidence.expect(
        "live run summary: removed, internal left, other-lane routes kept and before",
        have=[summary.get(k) for k in ("removed", "internal_routes_left", "other_lane_routes_kept")]
        + [summary.get("other_lane_routes_before")],
        want=[str(len(internal_routes)), "0", str(others), str(others)],
        rows=[live.stdout[-600:]],
    )
    routes_after, logged_after = _state(dsn)
    evidence.expect(
        "routes after the live run (internal-lane removed, live-lane kept)",
        have=routes_after,
        want=[r for r in routes_registered if r[1] != "internal"],
    )
    evidence.expect(
        "live-lane routes survive (enabled, disabled)",
        have=[(LIVE_TYPE, "live", r) in routes_after for r in (LIVE_ROUTE, LIVE_ROUTE_OFF)],
        want=[True, True],
    )
    evidence.before_after("route_registry_removal_log rows", logged_before, logged_after)
    evidence.expect("removal log delta", have=logged_after - logged_before, want=len(internal_routes))
    with connect(dsn) as conn:
        log = conn.execute(
            "SELECT event_type, delivery_lane, route, removed_by FROM route_registry_removal_log"
            " WHERE removed_by = %s ORDER BY route",
            [fb.ACTOR],
        ).fetchall()
        conn.rollback()
    evidence.expect(
        "removal log rows",
        have=[tuple(r) for r in log],
        want=[(t, lane, route, fb.ACTOR) for t, lane, route in internal_routes],
    )

    green = psql.run(fb.PROOF_SCRIPT, dsn=dsn)
    evidence.expect("proof script exit (after the rollback script)", have=green.returncode, want=0, rows=[str(green)])
    hc_ok, hc_detail = _surface(dsn)
    evidence.record("healthcheck detail (after the rollback script)", hc_detail)
    evidence.expect("healthcheck ok (after the rollback script)", have=hc_ok, want=True, rows=[hc_detail])
    evidence.expect(
        "routes other than the proof's own, before vs after",
        have=[r for r in routes_after if r[0] != LIVE_TYPE],
        want=[r for r in routes_before if r[1] != "internal"],
    )


# Built in the proof's own transaction: a second internal-lane type, and a live-lane type.
INTERNAL_TYPE_2 = "iu.proof.f5_internal"
FN_ROUTES_SQL = """
SELECT r.id, r.event_type, e.delivery_lane, r.route, r.enabled
  FROM route_registry r JOIN event_type_registry e USING (event_type)
 ORDER BY r.event_type, r.route, r.id
"""
UNREGISTER = (
    "SELECT route_id, event_type, delivery_lane, route, enabled, removed"
    " FROM fn_iu_event_boundary_unregister_internal_routes(%s, %s, %s)"
)
LOG_SQL = (
    "SELECT route_id, event_type, delivery_lane, route, enabled, removed_by, reason"
    " FROM route_registry_removal_log WHERE removed_by = %s ORDER BY event_type, route, route_id"
)


def _register_routes(db, internal_routes: int) -> None:
    """``internal_routes`` routes over the two internal-lane types (every other one disabled), two live-lane ones."""
    for event_type, lane in ((LIVE_TYPE, "live"), (INTERNAL_TYPE_2, "internal")):
        db.execute(
            "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in) VALUES (%s, %s, 'proof F-5')",
            [event_type, lane],
        )
    for i in range(internal_routes):
        db.execute(
            "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, %s)",
            [(fb.EVENT_TYPE, INTERNAL_TYPE_2)[i % 2], f"https://f5.invalid/internal-{i}", i % 2 == 0],
        )
    for route, enabled in ((LIVE_ROUTE, True), (LIVE_ROUTE_OFF, False)):
        db.execute(
            "INSERT INTO route_registry (event_type, route, enabled) VALUES (%s, %s, %s)", [LIVE_TYPE, route, enabled]
        )


@pytest.mark.claim("F-5")
@pytest.mark.parametrize("internal_routes", [1, 3])
def test_the_unregister_function_lists_then_removes_exactly_the_internal_lane_routes(db, evidence, internal_routes):
    """The dry run lists the internal-lane routes, not removed; the live run removes, returns and logs exactly them."""
    _register_routes(db, internal_routes)
    routes = [tuple(r) for r in db.execute(FN_ROUTES_SQL).fetchall()]
    internal = [r for r in routes if r[2] == "internal"]
    evidence.expect("internal-lane routes registered", have=len(internal), want=internal_routes)
    logged = count(db, "route_registry_removal_log")

    dry = [tuple(r) for r in db.execute(UNREGISTER, [True, None, None]).fetchall()]
    evidence.expect("dry run rows (removed = false)", have=dry, want=[(*r, False) for r in internal])
    evidence.expect("routes after the dry run", have=[tuple(r) for r in db.execute(FN_ROUTES_SQL)], want=routes)
    evidence.before_after("removal log rows (dry run)", logged, count(db, "route_registry_removal_log"))
    evidence.expect("removal log rows after the dry run", have=count(db, "route_registry_removal_log"), want=logged)

    live = [tuple(r) for r in db.execute(UNREGISTER, [False, fb.ACTOR, "proof F-5"]).fetchall()]
    evidence.expect("live run rows (removed = true)", have=live, want=[(*r, True) for r in internal])
    evidence.expect(
        "routes after the live run (live-lane kept)",
        have=[tuple(r) for r in db.execute(FN_ROUTES_SQL)],
        want=[r for r in routes if r[2] != "internal"],
    )
    evidence.expect(
        "removal log rows of the actor",
        have=[tuple(r) for r in db.execute(LOG_SQL, [fb.ACTOR])],
        want=[(*r, fb.ACTOR, "proof F-5") for r in internal],
    )


@pytest.mark.claim("F-5")
@pytest.mark.parametrize("reason", [None, "", "   "], ids=["null", "empty", "blank"])
def test_a_live_unregister_without_a_reason_is_refused_and_removes_nothing(db, evidence, reason):
    """A live unregister with a NULL, empty or blank reason is refused (IU030) and removes or logs nothing."""
    _register_routes(db, 1)
    routes = [tuple(r) for r in db.execute(FN_ROUTES_SQL).fetchall()]
    logged = count(db, "route_registry_removal_log")
    state, message = sqlstate_of(db, UNREGISTER, [False, fb.ACTOR, reason])
    evidence.expect("SQLSTATE", have=state, want="IU030", rows=[message])
    evidence.expect("routes after the refusal", have=[tuple(r) for r in db.execute(FN_ROUTES_SQL)], want=routes)
    evidence.expect("removal log rows after the refusal", have=count(db, "route_registry_removal_log"), want=logged)


@pytest.mark.claim("F-5")
@pytest.mark.intrusive
def test_a_live_unregister_that_leaves_one_internal_route_behind_fails(db, evidence):
    """A live unregister that leaves even one internal-lane route behind fails (IU032) and its removals roll back."""
    _register_routes(db, 3)
    kept = "https://f5.invalid/internal-0"
    db.execute(
        "CREATE FUNCTION pg_temp.f5_keep_one() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF OLD.route = '{kept}' THEN RETURN NULL; END IF; RETURN OLD; END $$"
    )
    db.execute(
        "CREATE TRIGGER f5_keep_one BEFORE DELETE ON route_registry FOR EACH ROW EXECUTE FUNCTION pg_temp.f5_keep_one()"
    )
    routes = [tuple(r) for r in db.execute(FN_ROUTES_SQL).fetchall()]
    state, message = sqlstate_of(db, UNREGISTER, [False, fb.ACTOR, "proof F-5"])
    evidence.expect("SQLSTATE", have=state, want="IU032", rows=[message])
    evidence.expect(
        "message counts the route left", have="1 internal-lane route(s) remain" in message, want=True, rows=[message]
    )
    evidence.expect("routes after the failure", have=[tuple(r) for r in db.execute(FN_ROUTES_SQL)], want=routes)
