"""F-1: internal_only_proof.sql asserts the five boundary facts through real psql."""

from __future__ import annotations

import pytest

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
