"""S-11: the healthcheck's eight surfaces of head 035 are present and green."""

import pytest

from iu_prove import pins
from proofs._substrate import healthcheck

SURFACES_035 = [
    "config_gates",
    "vector_ledger",
    "dieu_envelope_invariant",
    "envelope_backlog",
    "envelope_lifecycle_trigger",
    "lineage_orphans",
    "digest_drift",
    "retention_policies",
]


@pytest.mark.claim("S-11")
@pytest.mark.readonly
def test_the_healthcheck_has_its_eight_surfaces_all_green(db, evidence, iu_target):
    """dot_iu_healthcheck() reports the 8 surfaces of head 035, every one green on the fixtures."""
    rows = healthcheck(db)
    evidence.record("surfaces", {s: ok for s, ok, _ in rows})
    registered_035 = [
        r[0]
        for r in db.execute(
            "SELECT surface FROM iu_healthcheck_surface WHERE registered_in <= '035' ORDER BY position"
        ).fetchall()
    ]
    evidence.expect("surfaces registered up to 035", have=registered_035, want=SURFACES_035)
    pinned = pins.pinned(iu_target.head)["healthcheck_surfaces"]
    evidence.expect("surfaces reported (pinned for this head)", have=[s for s, _, _ in rows], want=list(pinned))
    evidence.expect_no_rows("red surfaces (surface, ok, detail)", [r for r in rows if not r[1]])
