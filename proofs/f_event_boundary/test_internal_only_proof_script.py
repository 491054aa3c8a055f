"""F-1: internal_only_proof.sql asserts the five boundary facts through real psql."""

from __future__ import annotations

import json

import pytest

from proofs._substrate import sqlstate_of
from proofs.f_event_boundary import _boundary as fb

# fact -> (SQL that breaks only that fact, text the failure must show: the offending row or gate value)
BREAKS = {
    "registry_row_exists": (
        f"DELETE FROM event_outbox WHERE event_type = '{fb.EVENT_TYPE}';"
        f" DELETE FROM event_type_registry WHERE event_type = '{fb.EVENT_TYPE}'",
        f"no event_type_registry row for {fb.EVENT_TYPE}",
    ),
    "lane_not_live": (
        f"UPDATE event_type_registry SET delivery_lane = 'live' WHERE event_type = '{fb.EVENT_TYPE}'",
        f"delivery_lane of {fb.EVENT_TYPE} = live",
    ),
    "no_route": (
        "INSERT INTO route_registry (event_type, route, enabled)"
        f" VALUES ('{fb.EVENT_TYPE}', 'https://f1.invalid/disabled-hook', false)",
        "route https://f1.invalid/disabled-hook (disabled",
    ),
    "delivery_disabled": (
        f"SELECT fn_iu_core_config_set('iu_core.delivery_enabled', 'true', '{fb.ACTOR}')",
        "gate iu_core.delivery_enabled = true",
    ),
    "live_routes_empty": (
        f"SELECT fn_iu_core_config_set('iu_core.delivery_live_routes', '\"iu.f1.some_other_type\"', '{fb.ACTOR}')",
        'gate iu_core.delivery_live_routes = "iu.f1.some_other_type"',
    ),
}


@pytest.mark.claim("F-1")
@pytest.mark.readonly
def test_the_proof_script_exits_zero_on_the_shipped_state(db, psql, evidence):
    """internal_only_proof.sql, run with real psql, exits 0 and reports all five facts holding on the shipped state."""
    independent = fb.independent_facts(db)
    evidence.expect("facts read straight from the tables", have=independent, want=dict.fromkeys(fb.FACTS, True))
    result = psql.run(fb.PROOF_SCRIPT)
    evidence.record("psql stderr", result.stderr.strip())
    evidence.expect("psql exit code", have=result.returncode, want=0, rows=[result.stdout[-800:]])
    evidence.expect("fact table printed", have=fb.fact_table(result.stdout), want=dict.fromkeys(fb.FACTS, "holds"))
    verdict = f"internal-only boundary holds for {fb.EVENT_TYPE}: 5 of 5 facts hold"
    evidence.expect("verdict line", have=verdict in result.stdout, want=True, rows=[result.stdout[-400:]])


@pytest.mark.claim("F-1")
@pytest.mark.parametrize("fact", list(BREAKS))
def test_each_broken_fact_makes_the_script_exit_nonzero_naming_it(db, psql, evidence, fact):
    """With one fact broken, internal_only_proof.sql exits non-zero naming exactly that fact and its offender."""
    break_sql, offending = BREAKS[fact]
    result = fb.run_in_rolled_back_session(psql.dsn, break_sql, fb.PROOF_SCRIPT)
    error = fb.error_line(result)
    evidence.record("break", break_sql)
    evidence.record("error line", error)
    evidence.expect_where("psql exit code", result.returncode, lambda rc: rc != 0, "non-zero", rows=[str(result)])
    evidence.expect("facts named broken", have=fb.named_facts(error), want=[fact], rows=[error])
    evidence.expect(f"error shows {offending!r}", have=offending in error, want=True, rows=[error])
    expected_table = {f: ("BROKEN" if f == fact else "holds") for f in fb.FACTS}
    evidence.expect("fact table printed", have=fb.fact_table(result.stdout), want=expected_table)
    evidence.expect(
        "facts after the psql session (the break was rolled back)",
        have=fb.independent_facts(db),
        want=dict.fromkeys(fb.FACTS, True),
    )


# The facts function read directly: each break alone (BREAKS) plus a gate row missing from
# iu_core_config altogether; "none" is the shipped state.
DIRECT_BREAKS = {
    "none": ("", None),
    **BREAKS,
    "delivery_disabled (gate row missing)": (
        "DELETE FROM iu_core_config WHERE key = 'iu_core.delivery_enabled'",
        "gate iu_core.delivery_enabled is missing from iu_core_config",
    ),
    "live_routes_empty (gate row missing)": (
        "DELETE FROM iu_core_config WHERE key = 'iu_core.delivery_live_routes'",
        "gate iu_core.delivery_live_routes is missing from iu_core_config",
    ),
}


def _lane_detail(db) -> str:
    """The lane fact's detail as read from the registry: no row, a live lane, or the lane it has."""
    row = db.execute(
        "SELECT delivery_lane, registered_in FROM event_type_registry WHERE event_type = %s", [fb.EVENT_TYPE]
    )
    lane = row.fetchone()
    if lane is None:
        return f"{fb.EVENT_TYPE} is not registered, so it has no lane"
    if lane[0] == "live":
        return f"event_type_registry.delivery_lane of {fb.EVENT_TYPE} = live (registered in {lane[1]})"
    return f"delivery_lane of {fb.EVENT_TYPE} = {lane[0]}"


@pytest.mark.claim("F-1")
@pytest.mark.parametrize("case", list(DIRECT_BREAKS))
def test_each_fact_is_reported_at_its_number_and_only_a_broken_one_is_a_violation(db, evidence, case):
    """Each fact is reported at its number; a fact broken alone (or its gate row missing) is the only violation."""
    break_sql, offending = DIRECT_BREAKS[case]
    if break_sql:
        for statement in break_sql.split(";"):
            db.execute(statement)
    broken = next((f for f in fb.FACTS if case.startswith(f)), None)
    independent = fb.independent_facts(db)
    evidence.expect(
        "facts read straight from the tables",
        have=independent,
        want={f: f != broken for f in fb.FACTS},
    )
    rows = db.execute(
        "SELECT fact_no, fact, ok, detail FROM fn_iu_event_boundary_facts(%s) ORDER BY fact_no", [fb.EVENT_TYPE]
    ).fetchall()
    evidence.expect(
        "(number, fact, holds) as the claim numbers them",
        have=[(n, f, ok) for n, f, ok, _ in rows],
        want=[(n, f, independent[f]) for n, f in enumerate(fb.FACTS, start=1)],
    )
    lane = next((d for _, f, _, d in rows if f == "lane_not_live"), None)
    evidence.expect("lane fact detail", have=lane, want=_lane_detail(db))
    violations = [
        tuple(r) for r in db.execute("SELECT fact, detail FROM fn_iu_event_boundary_violations(%s)", [fb.EVENT_TYPE])
    ]
    evidence.expect("violations (facts named)", have=[f for f, _ in violations], want=[broken] if broken else [])
    if offending:
        evidence.expect(
            f"violation detail shows {offending!r}",
            have=[offending in d for _, d in violations],
            want=[True],
            rows=violations,
        )


# delivery_live_routes values: a comma-separated list, blanks around a name ignored
LIVE_ROUTE_VALUES = [
    fb.EVENT_TYPE,
    f"iu.f1.other, {fb.EVENT_TYPE}",
    f" {fb.EVENT_TYPE} ,iu.f1.other",
    "iu.f1.other",
    f"{fb.EVENT_TYPE}.suffix,iu.f1.other",
]


@pytest.mark.claim("F-1")
@pytest.mark.parametrize("listed", LIVE_ROUTE_VALUES)
def test_the_live_routes_fact_says_whether_the_gate_lists_the_type(db, evidence, listed):
    """A non-empty delivery_live_routes breaks fact 5, whose detail says whether it lists the type."""
    fb.set_gate(db, "iu_core.delivery_live_routes", json.dumps(listed))
    lists = fb.EVENT_TYPE in [name.strip() for name in listed.split(",")]
    row = db.execute(
        "SELECT ok, detail FROM fn_iu_event_boundary_facts(%s) WHERE fact = 'live_routes_empty'", [fb.EVENT_TYPE]
    ).fetchone()
    evidence.expect("fact 5 holds", have=row[0], want=False)
    phrase = f"({'lists' if lists else 'does not list'} {fb.EVENT_TYPE};"
    evidence.expect(f"detail says {phrase!r}", have=phrase in row[1], want=True, rows=[row[1]])


@pytest.mark.claim("F-1")
@pytest.mark.parametrize("event_type", [None, "", "   "], ids=["null", "empty", "blank"])
def test_an_empty_event_type_is_refused(db, evidence, event_type):
    """An empty, blank or NULL event type is refused (IU030) by the facts, not reported as unregistered."""
    for function in ("fn_iu_event_boundary_facts", "fn_iu_event_boundary_violations"):
        state, message = sqlstate_of(db, f"SELECT * FROM {function}(%s::text)", [event_type])
        evidence.expect(f"{function}: SQLSTATE", have=state, want="IU030", rows=[message])
