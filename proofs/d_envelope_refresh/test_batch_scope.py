"""D-5: N instantiations in one transaction with the gate open write exactly N
refresh rows, each refreshing only its own dirty scope (no storm); every
envelope equals its recomputation and DIEU stays 27/23/36."""

import pytest

from iu_prove.profiles import for_every_n
from iu_prove.substrate import DIEU_ENVELOPE, computed_envelope, envelope

from ._envelope import (
    ERROR_LOG,
    REASON,
    cached_and_computed,
    dirty_ids,
    instantiate_live,
    new_refresh_rows,
    open_gates,
    rows,
)

pytestmark = pytest.mark.head("037")  # skipped on a database behind this migration


@pytest.mark.claim("D-5")
@for_every_n
def test_n_instantiations_write_n_refresh_rows_each_covering_only_its_instance(rolled_back, evidence, n):
    """N instantiations, gate on: exactly N refresh rows, each only its dirty scope; envelopes right, DIEU 27/23/36."""
    evidence.add("N", n)
    with rolled_back() as db:
        open_gates(db, refresh=True)
        templates = db.execute("SELECT code, version FROM iu_collection_template ORDER BY code, version").fetchall()
        stale_before = dirty_ids(db)
        errors_before = rows(db, ERROR_LOG)
        instances = []
        for k in range(n):
            code, version = templates[k % len(templates)]
            instances.append(instantiate_live(db, code, version=version, instance_code=f"IUPROVE-D5-{k:04d}")[0])

        written = new_refresh_rows(db)
        evidence.add("N -> refresh rows written", [n, len(written)])
        evidence.expect("refresh rows written", have=len(written), want=n, rows=written[:5])
        want_scopes = [
            sorted((stale_before if k == 0 else set()) | {instance}, key=str) for k, instance in enumerate(instances)
        ]
        have_scopes = [sorted(refreshed, key=str) for _reason, _count, refreshed in written]
        wrong = [
            (k, reason, count, len(refreshed))
            for k, (reason, count, refreshed) in enumerate(written)
            if reason != REASON or count != len(refreshed) or have_scopes[k] != want_scopes[k]
        ]
        evidence.expect_no_rows("refresh rows not (reason, own instance only): k, reason, count, scope size", wrong)
        evidence.add("refreshed_count per row (max)", max((c for _r, c, _ in written), default=0))
        mismatched = [
            (str(i), cached, computed)
            for i in instances
            for cached, computed in [cached_and_computed(db, i)]
            if cached != computed
        ]
        evidence.expect_no_rows("instances whose cached envelope differs from recomputation", mismatched)
        evidence.expect("instances still dirty", have=len(set(instances) & dirty_ids(db)), want=0)
        evidence.expect("trigger error-log rows written", have=rows(db, ERROR_LOG) - errors_before, want=0)
        evidence.expect(
            "DIEU cached / computed",
            have=[envelope(db, "DIEU"), computed_envelope(db, "DIEU")],
            want=[DIEU_ENVELOPE] * 2,
        )
