"""S-7: composing a collection: refusals write nothing, digests are deterministic."""

import pytest

from iu_prove.substrate import counts, sqlstate_of

TOUCHED = ["information_unit", "iu_piece_membership", "iu_three_axis_envelope_dirty"]
BAD_COMPOSITIONS = {
    "unknown piece": ["TPL-P01", "NO-SUCH-PIECE"],
    "retired piece": ["TPL-P01", "DIEU-R01"],
    "a collection as piece": ["TPL-P01", "DIEU"],
    "no pieces": [],
}


@pytest.mark.claim("S-7")
@pytest.mark.parametrize("case", list(BAD_COMPOSITIONS))
def test_composing_from_a_bad_piece_raises_and_writes_nothing(db, evidence, case):
    """Composing from an unknown, retired or non-piece unit raises a clear error and writes nothing."""
    before = counts(db, TOUCHED)
    state, message = sqlstate_of(db, "SELECT fn_iu_compose('S7-BAD', %s, 'iu-prove')", [BAD_COMPOSITIONS[case]])
    evidence.record("error", f"{state}: {message}")
    evidence.expect_where("SQLSTATE", state, lambda s: s is not None and s.startswith("IU"), "an IU-class error")
    evidence.expect("row counts after the refusal", have=counts(db, TOUCHED), want=before)


@pytest.mark.claim("S-7")
def test_the_membership_digest_is_deterministic(db, evidence):
    """Two collections of the same ordered pieces share a digest, equal to the digest of the piece list."""
    pieces = ["TPL-P03", "TPL-P01", "TPL-P02"]
    for code in ("S7-A", "S7-B"):
        db.execute("SELECT fn_iu_compose(%s, %s, 'iu-prove')", [code, pieces])
    a, b = (
        db.execute("SELECT fn_iu_membership_digest(id) FROM information_unit WHERE code = %s", [c]).fetchone()[0]
        for c in ("S7-A", "S7-B")
    )
    want = db.execute("SELECT fn_iu_pieces_digest(%s)", [pieces]).fetchone()[0]
    reordered = db.execute("SELECT fn_iu_pieces_digest(%s)", [sorted(pieces)]).fetchone()[0]
    evidence.expect("digest of S7-A", have=a, want=want)
    evidence.expect("digest of S7-B", have=b, want=want)
    evidence.expect_true("order matters (sorted list digests differently)", reordered != want)
