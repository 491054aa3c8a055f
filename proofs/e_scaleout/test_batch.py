"""E-1: a bounded batch of N writes N digest-matched instances, workflow and file mixed."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given

from iu_prove.profiles import scaleout_sizes
from proofs.e_scaleout import _scaleout as sc

AUDIT_SQL = """
SELECT instance_code, template_code, template_version, template_kind, digest_matches_template,
       lineage_actor, template_digest, instance_digest
  FROM v_iu_auto_instantiate_event_log
 WHERE triggered_by = %s AND NOT dry_run
 ORDER BY instance_code
"""


@pytest.mark.claim("E-1")
@given(n=scaleout_sizes())
@example(n=1)
@example(n=3)
@example(n=12)
@example(n=20)
@example(n=30)
@example(n=40)
def test_a_batch_of_n_writes_n_lineage_and_audit_rows_all_digest_matched(rolled_back, evidence, n):
    """A batch of N writes N lineage and N audit rows for actor iu-core-<N>x-bulk, all digest-matched, 2:1 mixed."""
    evidence.add("N", n)
    with rolled_back() as db:
        actor = sc.default_actor(n)
        if sc.has_rows(db, actor):
            # iu-core-12x-bulk is the fixtures' background actor: one actor addresses one batch
            err = sc.refusal(db, lambda: sc.scaleout(db, n, bound=sc.bound_for(n)))
            evidence.expect(
                "SQLSTATE when the default actor already has rows", have=sc.sqlstate(err), want="IU022", note=actor
            )
            actor = sc.fresh_actor(db, f"{actor}-e1")
            rows = sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        else:
            rows = sc.scaleout(db, n, bound=sc.bound_for(n))
        evidence.expect("rows returned by the batch", have=len(rows), want=n, note=f"N={n}")

        lineage = sc.scalar(db, f"SELECT count(*) FROM {sc.LINEAGE} WHERE actor = %s", [actor])
        audit = db.execute(AUDIT_SQL, [actor]).fetchall()
        unmatched = [r for r in audit if not r[4] or r[5] != actor or r[6] != r[7]]
        kinds = Counter(r[3] for r in audit)
        want_wf = sc.expected_workflow_count(n)
        evidence.add(
            "N, lineage, audit, digest-matched, workflow, file",
            [n, lineage, len(audit), len(audit) - len(unmatched), kinds["workflow"], kinds["file"]],
        )
        evidence.expect("lineage rows of the actor", have=lineage, want=n, note=f"N={n}, actor {actor}")
        evidence.expect("live audit rows of the actor", have=len(audit), want=n, note=f"N={n}, actor {actor}")
        evidence.expect_no_rows("audit rows not digest-matched or without their lineage row", unmatched)
        evidence.expect(
            "instances per kind (workflow, file)",
            have=(kinds["workflow"], kinds["file"]),
            want=(want_wf, n - want_wf),
            note=f"N={n}: round(N * 2/3) workflow instances",
        )
        if n >= 3:
            evidence.expect_true(
                "both template kinds present (N >= 3)", kinds["workflow"] and kinds["file"], note=f"N={n}"
            )
        # the templates of a kind are used in turn: their counts differ by at most one
        for kind in ("workflow", "file"):
            used = Counter((r[1], r[2]) for r in audit if r[3] == kind)
            if used:
                evidence.expect_true(
                    f"{kind} templates used in turn (counts differ by at most one)",
                    max(used.values()) - min(used.values()) <= 1,
                    rows=sorted(used.items()),
                )
