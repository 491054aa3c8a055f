"""S-3…S-6: the three-axis envelope cache, its staleness tracking and refreshes."""

import pytest

from iu_prove.substrate import DIEU_ENVELOPE, computed_envelope, count, dirty_codes, envelope, envelope_mismatches

REFRESH_LOG = "iu_three_axis_envelope_refresh_log"
GATE = "iu_core.three_axis_auto_refresh_enabled"
# A template piece held by the templates' background instances (several collections).
SHARED_PIECE = "TPL-P01"


def collections_holding(db, piece_code: str) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT c.code FROM iu_piece_membership m JOIN information_unit c ON c.id = m.collection_id "
            "JOIN information_unit p ON p.id = m.piece_id WHERE p.code = %s ORDER BY 1",
            [piece_code],
        ).fetchall()
    ]


def last_refresh(db) -> tuple:
    return db.execute(
        "SELECT reason, refreshed_count, ARRAY(SELECT u.code FROM information_unit u "
        "WHERE u.id = ANY(l.refreshed_collections) ORDER BY u.code) "
        f"FROM {REFRESH_LOG} l ORDER BY occurred_at DESC LIMIT 1"
    ).fetchone()


@pytest.mark.claim("S-3")
@pytest.mark.readonly
def test_dieu_envelope_is_27_23_36_cached_and_recomputed(db, evidence):
    """The DIEU envelope is 27/23/36, both as cached and as recomputed from its active pieces."""
    evidence.expect("DIEU cached envelope", have=envelope(db, "DIEU"), want=DIEU_ENVELOPE)
    evidence.expect("DIEU recomputed envelope", have=computed_envelope(db, "DIEU"), want=DIEU_ENVELOPE)
    evidence.record(
        "DIEU active pieces",
        db.execute(
            "SELECT count(*) FROM iu_piece_membership m JOIN information_unit c ON c.id = m.collection_id "
            "JOIN information_unit p ON p.id = m.piece_id WHERE c.code = 'DIEU' AND p.lifecycle_state = 'active'"
        ).fetchone()[0],
    )


@pytest.mark.claim("S-4")
def test_lifecycle_change_with_gate_on_refreshes_the_collections_holding_the_piece(db, evidence):
    """With the auto-refresh gate on, a piece's lifecycle change writes one refresh row covering its collections."""
    holders = collections_holding(db, SHARED_PIECE)
    before = count(db, REFRESH_LOG)
    db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [GATE])
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    evidence.before_after("refresh log rows", before, count(db, REFRESH_LOG))
    evidence.expect("refresh log delta", have=count(db, REFRESH_LOG) - before, want=1)
    reason, _refreshed, codes = last_refresh(db)
    evidence.expect("refresh reason", have=reason, want="iu_lifecycle_trigger")
    evidence.expect("collections refreshed", have=codes, want=holders)
    evidence.expect("still dirty", have=dirty_codes(db), want=[])
    evidence.expect_no_rows("cached envelopes differing from recomputation", envelope_mismatches(db, holders))


@pytest.mark.claim("S-4")
def test_lifecycle_change_with_gate_off_only_marks_the_collections_dirty(db, evidence):
    """With the gate off (shipped), a lifecycle change writes no refresh row and leaves its collections dirty."""
    holders = collections_holding(db, SHARED_PIECE)
    before = count(db, REFRESH_LOG)
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    evidence.before_after("refresh log rows", before, count(db, REFRESH_LOG))
    evidence.expect("refresh log delta", have=count(db, REFRESH_LOG) - before, want=0)
    evidence.expect("dirty collections", have=dirty_codes(db), want=holders)


@pytest.mark.claim("S-5")
def test_refresh_if_stale_is_idempotent(db, evidence):
    """Refresh-if-stale refreshes the dirty scope once; a second call returns false and writes nothing."""
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    dirty = len(dirty_codes(db))
    before = count(db, REFRESH_LOG)
    first = db.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('proof')").fetchone()[0]
    middle = count(db, REFRESH_LOG)
    second = db.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('proof')").fetchone()[0]
    after = count(db, REFRESH_LOG)
    evidence.record("dirty before", dirty)
    evidence.expect("first call", have=first, want=True)
    evidence.expect("first call refresh rows", have=middle - before, want=1)
    evidence.expect("first call refreshed count", have=last_refresh(db)[1], want=dirty)
    evidence.expect("second call", have=second, want=False)
    evidence.expect("second call refresh rows", have=after - middle, want=0)


@pytest.mark.claim("S-6")
def test_manual_refresh_clears_every_dirty_scope(db, evidence):
    """The operator's manual refresh clears every dirty mark and every cached envelope equals recomputation."""
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code IN ('TPL-P01', 'DIEU-P05')")
    db.execute("UPDATE iu_three_axis_envelope SET axis_a_count = axis_a_count + 5")  # stale cache, not marked
    evidence.record("dirty before", len(dirty_codes(db)))
    refreshed = db.execute("SELECT dot_iu_three_axis_envelope_refresh()").fetchone()[0]
    collections = count(db, "information_unit", "kind = 'collection'")
    evidence.expect("collections refreshed", have=refreshed, want=collections)
    evidence.expect("dirty after", have=dirty_codes(db), want=[])
    evidence.expect_no_rows("cached envelopes differing from recomputation", envelope_mismatches(db))
    evidence.expect("log reason", have=last_refresh(db)[0], want="manual_full_refresh")
