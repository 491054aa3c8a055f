"""D-2: the BEGIN/ROLLBACK probe — with the gate opened in the transaction, one
live instantiation writes one refresh-log row (reason iu_auto_instantiate_trigger)
that refreshes the instance; after ROLLBACK the row count and the gates are back.

Oracle: the instance's envelope from the Python model (``proofs/_model.py``);
the refreshed scope is the dirty backlog before the call plus the instance,
read before the call. The probe script's three numbers are compared with
counts read in sessions of their own.
"""

import re

import pytest

from iu_prove import psql as psql_mod
from iu_prove.dsn import connect
from proofs.d_envelope_refresh._envelope import (
    ERROR_LOG,
    REASON,
    REFRESH_LOG,
    TEMPLATE,
    cached_and_computed,
    dirty_ids,
    gate_values,
    instantiate_live,
    new_refresh_rows,
    open_gates,
    rows,
)

PROBE = "envelope-refresh/probe.sql"
SUMMARY = re.compile(r"refresh log rows: (\d+) -> (\d+) .*after ROLLBACK (\d+)")


def snapshot(rolled_back) -> dict:
    """Row counts and gate values, read in a transaction of their own."""
    with rolled_back() as db:
        return {
            "refresh log rows": rows(db, REFRESH_LOG),
            "trigger error-log rows": rows(db, ERROR_LOG),
            "gates": gate_values(db),
        }


@pytest.mark.claim("D-2")
def test_one_live_instantiation_with_the_gate_open_refreshes_its_instance_once(rolled_back, evidence):
    """Gate on in the transaction, one instantiation: refresh log +1, its envelope right; ROLLBACK restores all."""
    before = snapshot(rolled_back)
    with rolled_back() as db:
        open_gates(db, refresh=True)
        stale_before = dirty_ids(db)
        instance_id, code, *_ = instantiate_live(db, TEMPLATE)
        evidence.record("instance", code)
        evidence.before_after("refresh log rows", before["refresh log rows"], rows(db, REFRESH_LOG))
        written = new_refresh_rows(db)
        evidence.expect("refresh-log rows written", have=len(written), want=1, rows=written)
        reason, count, refreshed = written[0]
        evidence.expect("reason", have=reason, want=REASON)
        evidence.expect_true("the row refreshes the instance", instance_id in refreshed, rows=[written[0]])
        evidence.expect(
            "refreshed_count (the backlog and the instance)", have=count, want=len(stale_before | {instance_id})
        )
        evidence.expect(
            "refreshed collections",
            have=sorted(map(str, refreshed)),
            want=sorted(map(str, stale_before | {instance_id})),
        )
        cached, computed = cached_and_computed(db, instance_id)
        evidence.expect("instance envelope cached (= recomputed)", have=cached, want=computed)
        evidence.expect_true("instance not dirty", instance_id not in dirty_ids(db))
        evidence.expect("trigger error-log rows", have=rows(db, ERROR_LOG), want=before["trigger error-log rows"])
    after = snapshot(rolled_back)
    evidence.expect("row counts and gates after ROLLBACK", have=after, want=before)


@pytest.mark.claim("D-2")
def test_the_probe_script_passes_through_real_psql_and_leaves_no_trace(psql, rolled_back, evidence):
    """sql/ops/envelope-refresh/probe.sql exits 0 through real psql, showing +1 inside and the count back after."""
    before = snapshot(rolled_back)
    result = psql.run(PROBE, template=TEMPLATE)
    evidence.record("probe output", result.stdout.strip().splitlines())
    evidence.expect("probe exit code", have=result.returncode, want=0, note=result.stderr.strip())
    match = SUMMARY.search(result.stdout)
    evidence.expect_true("probe prints its refresh-log summary", match, note=result.stdout)
    counted = [int(g) for g in match.groups()]
    first = counted[0]
    evidence.expect("refresh log rows: before, inside, after ROLLBACK", have=counted, want=[first, first + 1, first])
    evidence.expect("refresh log rows the probe saw before", have=first, want=before["refresh log rows"])
    evidence.expect("row counts and gates after the probe", have=snapshot(rolled_back), want=before)


@pytest.mark.claim("D-2")
@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"template": "NO-SUCH-TEMPLATE"}, "unknown template code 'NO-SUCH-TEMPLATE'"),
        ({"actor": "iu-core-%"}, "-v actor: actor refused"),
        ({"template": "x'; DROP TABLE information_unit; --"}, "unknown template code"),
    ],
    ids=["unknown-template", "pattern-actor", "quoted-input"],
)
def test_the_probe_refuses_a_bad_variable_and_writes_nothing(psql, rolled_back, evidence, variables, message):
    """The probe refuses a bad -v variable with a one-line message and a non-zero exit, writing nothing."""
    before = snapshot(rolled_back)
    result = psql.run(PROBE, **variables)
    evidence.record("variables", variables)
    evidence.expect_where("probe exit code", result.returncode, lambda rc: rc != 0, "non-zero")
    evidence.expect_true("message names the bad variable", message in result.stderr, note=result.stderr.strip())
    evidence.record("message", result.stderr.strip().splitlines()[:1])
    evidence.expect("row counts and gates afterwards", have=snapshot(rolled_back), want=before)


BREAKAGES = {
    "trigger-disabled": (
        "ALTER TABLE iu_collection_template_instance_lineage DISABLE TRIGGER trg_iu_lineage_envelope_refresh",
        "rows after one instantiation (expected +1)",
    ),
    "refreshed-under-another-reason": (
        "CREATE FUNCTION pg_temp.proof_reason() RETURNS trigger LANGUAGE plpgsql AS "
        "$f$ BEGIN NEW.reason := 'manual_full_refresh'; RETURN NEW; END $f$;"
        "CREATE TRIGGER proof_reason BEFORE INSERT ON iu_three_axis_envelope_refresh_log "
        "FOR EACH ROW EXECUTE FUNCTION pg_temp.proof_reason()",
        "has reason 'manual_full_refresh'",
    ),
    "cached-envelope-off-by-one": (
        "CREATE FUNCTION pg_temp.proof_skew() RETURNS trigger LANGUAGE plpgsql AS "
        "$f$ BEGIN NEW.axis_b_count := NEW.axis_b_count + 1; RETURN NEW; END $f$;"
        "CREATE TRIGGER proof_skew BEFORE INSERT OR UPDATE ON iu_three_axis_envelope "
        "FOR EACH ROW EXECUTE FUNCTION pg_temp.proof_skew()",
        "cached envelope",
    ),
}


@pytest.mark.claim("D-2")
@pytest.mark.durable  # a psql session of its own that alters tables: a database of its own
@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_the_probe_script_fails_naming_each_breakage_alone(fresh_database, evidence, breakage):
    """Control: probe.sql, with one breakage set up in its own session, exits non-zero naming it; nothing kept."""
    setup, message = BREAKAGES[breakage]
    with connect(fresh_database) as conn:
        before = rows(conn, REFRESH_LOG), gate_values(conn)
        conn.rollback()
    result = psql_mod.run_in_rolled_back_session(fresh_database, setup, PROBE, template=TEMPLATE)
    error = next((line for line in result.stderr.splitlines() if "ERROR:" in line), "")
    evidence.record("probe error", error)
    evidence.expect_where("probe exit", result.returncode, lambda rc: rc != 0, "non-zero")
    evidence.expect_true("the error names the breakage", message in error, rows=[error or result.stderr[-400:]])
    with connect(fresh_database) as conn:
        after = rows(conn, REFRESH_LOG), gate_values(conn)
        conn.rollback()
    evidence.expect("refresh log rows and gates after the probe", have=after, want=before)
