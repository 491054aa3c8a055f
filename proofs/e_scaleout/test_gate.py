"""E-2: the orchestrator gate is closed after a batch, whether the batch succeeded or failed."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import fingerprint
from iu_prove.dsn import connect
from iu_prove.profiles import scaleout_sizes
from proofs.e_scaleout import _scaleout as sc

BLOCKER_ACTOR = "iu-prove-e2-blocker"


def planned_codes(db: psycopg.Connection, n: int, actor: str) -> list[str]:
    """The instance codes a batch would use, from its dry run (undone at once)."""
    with db.transaction(force_rollback=True):
        return [r["instance_code"] for r in sc.scaleout(db, n, actor, bound=sc.bound_for(n), dry_run=True)]


def block_code(db: psycopg.Connection, code: str) -> None:
    """Take ``code`` beforehand, so the batch's instance with that code fails to compose."""
    db.execute("SELECT fn_iu_compose(%s, ARRAY['TPL-P01'], %s)", [code, BLOCKER_ACTOR])


@pytest.mark.claim("E-2")
@given(n=scaleout_sizes(), data=st.data())
@example(n=20, data=None)
@example(n=40, data=None)
def test_the_gate_is_closed_after_a_batch_and_after_a_failed_batch(rolled_back, evidence, n, data):
    """The gate is open only inside the batch: closed, its row unchanged, after a batch and after one failing at k."""
    evidence.add("N", n)
    k = n if data is None else data.draw(st.integers(1, n), label="k")
    with rolled_back() as db:
        before = sc.gate_row(db)
        evidence.expect("gate open before the batch", have=sc.gate_open(db), want=False)
        actor = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e2")
        rows = sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        live = sc.scalar(db, f"SELECT count(*) FROM {sc.AUDIT} WHERE triggered_by = %s AND NOT dry_run", [actor])
        evidence.expect("live instances written (the gate was open inside)", have=live, want=n, note=f"N={n}")
        evidence.expect("gate open after the batch", have=sc.gate_open(db), want=False, note=f"N={n}")
        evidence.expect("gate row after the batch equals the row before", have=sc.gate_row(db), want=before)

        failing = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e2-fail")
        block_code(db, planned_codes(db, n, failing)[k - 1])
        err = sc.refusal(db, lambda: sc.scaleout(db, n, failing, bound=sc.bound_for(n)))
        evidence.add("N, k, rows of the good batch, SQLSTATE of the failing batch", [n, k, len(rows), sc.sqlstate(err)])
        evidence.expect("the batch failing at instance k raises", have=err is not None, want=True, note=f"N={n}, k={k}")
        evidence.expect("gate open after the failed batch", have=sc.gate_open(db), want=False, note=f"N={n}, k={k}")
        evidence.expect("gate row after the failed batch equals the row before", have=sc.gate_row(db), want=before)
        evidence.expect(
            "rows of the failed batch's actor",
            have=sc.footprint(db, failing),
            want=sc.NO_FOOTPRINT,
        )


@pytest.mark.claim("E-2")
@pytest.mark.durable
def test_the_script_leaves_the_gate_closed_for_other_sessions_after_commit_and_after_failure(
    fresh_database, psql, evidence
):
    """After run_bounded_scaleout.sql commits, and after it fails, a new session sees the gate closed and unchanged."""
    with connect(fresh_database) as db:
        before = sc.gate_row(db)
        db.rollback()
    ok = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=20, live="true")
    evidence.record("exit code of the committed run (n=20)", ok.returncode)
    assert ok.returncode == 0, str(ok)
    with connect(fresh_database) as db:
        evidence.expect("gate open in a new session after the commit", have=sc.gate_open(db), want=False)
        evidence.expect("gate row after the commit equals the row before", have=sc.gate_row(db), want=before)
        evidence.expect(
            "lineage rows committed for iu-core-20x-bulk",
            have=sc.scalar(db, f"SELECT count(*) FROM {sc.LINEAGE} WHERE actor = 'iu-core-20x-bulk'"),
            want=20,
        )
        codes = planned_codes(db, 30, "iu-core-30x-bulk")
        block_code(db, codes[17])
        db.commit()
        blocked = fingerprint.of_schema(db)
        db.rollback()
    bad = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=30, live="true")
    evidence.record("exit code of the run failing at instance 18 of 30", bad.returncode)
    evidence.record("its message", bad.stderr.strip().splitlines()[0] if bad.stderr.strip() else "")
    evidence.expect("the failing run exits non-zero", have=bad.returncode != 0, want=True)
    with connect(fresh_database) as db:
        evidence.expect("gate open in a new session after the failure", have=sc.gate_open(db), want=False)
        evidence.expect("gate row after the failure equals the row before", have=sc.gate_row(db), want=before)
        changed = fingerprint.diff(blocked, fingerprint.of_schema(db))
        evidence.expect_no_rows("tables changed by the failed run", fingerprint.describe(changed))
        db.rollback()
