"""E-9: a fault at instance k of N aborts the whole batch: nothing of the actor is left."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg import sql

from iu_prove import fingerprint
from iu_prove.profiles import scaleout_sizes
from proofs.e_scaleout import _scaleout as sc

FAULT_FN = """
CREATE FUNCTION pg_temp.iu_prove_e9_fault() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF (SELECT count(*) FROM iu_collection_template_instance_lineage l WHERE l.actor = NEW.actor) = {k} THEN
    RAISE EXCEPTION 'injected fault at instance %', {k};
  END IF;
  RETURN NULL;
END
$f$
"""
FAULT_TRIGGER = """
CREATE TRIGGER iu_prove_e9_fault AFTER INSERT ON iu_collection_template_instance_lineage
  FOR EACH ROW WHEN (NEW.actor = {actor}) EXECUTE FUNCTION pg_temp.iu_prove_e9_fault()
"""


@pytest.mark.claim("E-9")
@pytest.mark.intrusive
@given(n=scaleout_sizes(), data=st.data())
@example(n=20, data=None)
@example(n=40, data=None)
@example(n=1, data=None)
def test_a_fault_at_instance_k_aborts_the_whole_batch(rolled_back, evidence, n, data):
    """A fault injected at the k-th lineage insert aborts the batch of N: 0 rows of the actor, every table as before."""
    evidence.add("N", n)
    k = (n + 1) // 2 if data is None else data.draw(st.integers(1, n), label="k")
    with rolled_back() as db:
        actor = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e9")
        db.execute(sql.SQL(FAULT_FN).format(k=sql.Literal(k)))
        db.execute(sql.SQL(FAULT_TRIGGER).format(actor=sql.Literal(actor)))
        before = fingerprint.of_schema(db)
        err = sc.refusal(db, lambda: sc.scaleout(db, n, actor, bound=sc.bound_for(n)))
        message = (err.diag.message_primary if err is not None else None) or ""
        evidence.add("N, k, error", [n, k, message])
        evidence.expect(
            "the batch fails with the injected fault",
            have=message,
            want=f"injected fault at instance {k}",
            note=f"N={n}, k={k}",
        )
        evidence.expect(
            "rows of the actor after the failed batch",
            have=sc.footprint(db, actor),
            want=sc.NO_FOOTPRINT,
            note=f"N={n}, k={k}",
        )
        evidence.expect("gate open after the failed batch", have=sc.gate_open(db), want=False)
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        evidence.expect_no_rows("tables the failed batch changed", fingerprint.describe(changed))


@pytest.mark.claim("E-9")
def test_the_postcondition_refuses_a_batch_with_a_single_thing_wrong(db, evidence):
    """The batch postcondition raises IU025 when one thing alone is off (one audit row short) and passes the batch."""
    actor = sc.fresh_actor(db, "iu-prove-e9-postcondition")
    sc.scaleout(db, 2, actor, dry_run=True)

    def outcome(n: int, dry_run: bool) -> str | None:
        return sc.sqlstate(
            sc.refusal(db, lambda: db.execute("SELECT fn_iu_bounded_scaleout_assert(%s, %s, %s)", [actor, n, dry_run]))
        )

    evidence.expect(
        "postcondition of a 2-instance dry run: as run, one audit row short, one too many, taken for live",
        have=[outcome(2, True), outcome(3, True), outcome(1, True), outcome(2, False)],
        want=[None, "IU025", "IU025", "IU025"],
    )


# One thing wrong at a time after a live batch of 3, and the problem the postcondition must name for it
POSTCONDITION_BREAKS = {
    "a digest mismatch": (
        "UPDATE iu_auto_instantiate_event_log SET digest_matches_template = false WHERE id = "
        "(SELECT min(id::text)::uuid FROM iu_auto_instantiate_event_log WHERE triggered_by = %(a)s)",
        "1 of 3 instances do not match their template digest",
    ),
    "a lineage row missing": (
        "DELETE FROM iu_collection_template_instance_lineage WHERE id = "
        "(SELECT min(id::text)::uuid FROM iu_collection_template_instance_lineage WHERE actor = %(a)s)",
        "2 lineage rows, expected 3",
    ),
    "a dry-run audit row besides": (
        "INSERT INTO iu_auto_instantiate_event_log (template_code, template_version, triggered_by, dry_run) "
        "VALUES ('WF-REVIEW', 1, %(a)s, true)",
        "3 live audit rows (and 1 others), expected 3",
    ),
    "the gate left open": (
        "SELECT fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, %(a)s)",
        "gate iu_core.auto_instantiate_enabled is still open",
    ),
}


@pytest.mark.claim("E-9")
@pytest.mark.parametrize("case", list(POSTCONDITION_BREAKS))
def test_the_postcondition_names_each_problem_alone_with_its_counts(db, evidence, case):
    """After a live batch of 3 with one thing wrong, the postcondition raises IU025 naming exactly that problem."""
    actor = sc.fresh_actor(db, "iu-prove-e9-problems")
    sc.scaleout(db, 3, actor)
    statement, problem = POSTCONDITION_BREAKS[case]
    db.execute(statement, {"a": actor})
    error = sc.refusal(db, lambda: db.execute("SELECT fn_iu_bounded_scaleout_assert(%s, 3, false)", [actor]))
    evidence.expect(
        "SQLSTATE and message",
        have=[sc.sqlstate(error), error.diag.message_primary if error else None],
        want=["IU025", f"scaleout aborted: batch of actor '{actor}' is not as planned: {problem}"],
    )
