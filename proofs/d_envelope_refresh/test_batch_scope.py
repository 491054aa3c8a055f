"""D-5: N instantiations in one transaction with the gate open write exactly N
refresh rows, each refreshing only its own dirty scope (no storm); every
envelope equals its recomputation and DIEU stays 27/23/36.

Oracle: the refresh scope is read from the envelope rows each instantiation
wrote (new, removed or with another ``refreshed_at``: change capture in the
proof's transaction, or every row's ``refreshed_at`` where triggers cannot be
added), never from the refresh log the trigger writes; envelopes from the Python model of the rule
(``proofs/_model.py``: distinct non-NULL axis values of active pieces); DIEU
from the literal 27/23/36.
Boundaries: N = 1, 20, the bound 40 (``for_every_n``), plus Hypothesis' N.
Scope both ways: after instantiation k, exactly instance k's envelope row was
written (with the dirty backlog at k = 0); every other row kept its
``refreshed_at``.
"""

import uuid

import pytest

from iu_prove.profiles import for_every_n
from proofs import _model as model
from proofs._substrate import DIEU_ENVELOPE, computed_envelope, envelope
from proofs.d_envelope_refresh._envelope import (
    ERROR_LOG,
    REASON,
    cached_and_computed,
    dirty_ids,
    instantiate_live,
    new_refresh_rows,
    open_gates,
    rows,
)


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
        written_rows = []  # per instantiation: the envelope rows whose refreshed_at moved
        writes = model.envelope_writes(db)
        for k in range(n):
            code, version = templates[k % len(templates)]
            instances.append(instantiate_live(db, code, version=version, instance_code=f"IUPROVE-D5-{k:04d}")[0])
            written_rows.append({uuid.UUID(cid) for cid in writes.changed()})
        wrong_scope = [
            (k, sorted(map(str, have)), sorted(map(str, want)))
            for k, (have, want) in enumerate(
                zip(
                    written_rows,
                    [(stale_before if k == 0 else set()) | {i} for k, i in enumerate(instances)],
                    strict=True,
                )
            )
            if have != want
        ]
        evidence.expect_no_rows(
            "instantiations whose written envelope rows (by refreshed_at) are not their own: k, written, want",
            wrong_scope,
        )

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
        evidence.expect_no_rows("instances whose cached envelope differs from the Python model", mismatched)
        evidence.expect("instances still dirty", have=len(set(instances) & dirty_ids(db)), want=0)
        evidence.expect("trigger error-log rows written", have=rows(db, ERROR_LOG) - errors_before, want=0)
        evidence.expect(
            "DIEU cached / computed / modelled",
            have=[envelope(db, "DIEU"), computed_envelope(db, "DIEU"), model.envelope_of_code(db, "DIEU")],
            want=[DIEU_ENVELOPE] * 3,
        )
