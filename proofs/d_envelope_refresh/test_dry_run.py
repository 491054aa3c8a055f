"""D-6: the orchestrator's own dry run writes no lineage row, so it fires no refresh."""

import pytest

from proofs._substrate import scalar, set_gate
from proofs.d_envelope_refresh._envelope import (
    AUDIT,
    ERROR_LOG,
    LINEAGE,
    REFRESH_GATE,
    REFRESH_LOG,
    dirty_ids,
    rows,
)


@pytest.mark.claim("D-6")
def test_the_orchestrators_dry_run_fires_nothing_even_with_the_gate_open_and_a_stale_collection(db, evidence):
    """A dry run of every template, gate open and DIEU stale: lineage, refresh and error log +0, DIEU still dirty."""
    set_gate(db, REFRESH_GATE, True)
    dieu = scalar(db, "SELECT id FROM information_unit WHERE code = 'DIEU'")
    db.execute("SELECT fn_iu_three_axis_envelope_mark_dirty(ARRAY[%s]::uuid[], 'proof: stale before dry runs')", [dieu])
    templates = db.execute("SELECT code, version FROM iu_collection_template ORDER BY code, version").fetchall()
    before = {t: rows(db, t) for t in (LINEAGE, REFRESH_LOG, ERROR_LOG, AUDIT)}
    dirty_before = dirty_ids(db)

    for code, version in templates:
        db.execute("SELECT * FROM dot_iu_auto_instantiate_from_event(%s, 'iu-prove', true, %s)", [code, version])
    evidence.expect("dry runs (one per fixture template)", have=len(templates), want=12)
    delta = {t: rows(db, t) - n for t, n in before.items()}
    evidence.expect(
        "rows written by the dry runs",
        have=delta,
        want={LINEAGE: 0, REFRESH_LOG: 0, ERROR_LOG: 0, AUDIT: len(templates)},
    )
    evidence.expect("dirty set (DIEU still stale)", have=dirty_ids(db), want=dirty_before)
    evidence.expect_true("DIEU still dirty", dieu in dirty_ids(db))
