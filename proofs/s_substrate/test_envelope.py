"""S-3…S-6: the three-axis envelope cache, its staleness tracking and refreshes.

Oracle: ``proofs/_model.py`` — per axis, the number of distinct non-NULL values
among a collection's *active* pieces, computed in Python over the raw
membership rows; DIEU's literal 27/23/36 from the seed; and a hand-derived
envelope for a collection built in the proof. Refresh scope is read from every
envelope row's ``refreshed_at`` (``model.touched``, or a ``changes.Watch`` on it
that reads only what the transaction wrote), not from the refresh log.

Branches the fixtures reach: a retired piece and a draft piece inside a
collection (excluded), a NULL axis value (not counted), a piece held by several
collections. Scope both ways: what must be refreshed is, every other envelope
keeps its ``refreshed_at`` and its counts.
"""

import uuid

import pytest

from iu_prove import changes
from proofs import _model as model
from proofs._substrate import DIEU_ENVELOPE, count, dirty_codes, sqlstate_of

REFRESH_LOG = "iu_three_axis_envelope_refresh_log"
COUNTS = ("axis_a_count", "axis_b_count", "axis_c_count")
GATE = "iu_core.three_axis_auto_refresh_enabled"
# A template piece held by the templates' background instances (several collections).
SHARED_PIECE = "TPL-P01"
# S6-MIXED: the hand-derived envelope of two active pieces, a draft and a retired one (axis c of B is NULL),
# and an active collection held as a member (not a piece: not counted)
MIXED = [
    ("S6-ACTIVE-A", "active", "x1", "y1", "z1"),
    ("S6-ACTIVE-B", "active", "x1", "y2", None),
    ("S6-DRAFT", "draft", "x9", "y9", "z9"),
    ("S6-RETIRED", "active", "x8", "y8", "z8"),  # retired after composition
]
MIXED_ENVELOPE = [1, 2, 1]


def ids_of(db, codes) -> dict:
    return dict(db.execute("SELECT id, code FROM information_unit WHERE code = ANY(%s)", [list(codes)]).fetchall())


def holders_of(db, piece_code: str) -> dict:
    """id -> code of the collections holding the piece, read raw."""
    return dict(
        db.execute(
            "SELECT DISTINCT c.id, c.code FROM iu_piece_membership m JOIN information_unit c ON c.id = m.collection_id "
            "JOIN information_unit p ON p.id = m.piece_id WHERE p.code = %s",
            [piece_code],
        ).fetchall()
    )


def computed(db) -> dict:
    """fn_iu_three_axis_envelope_compute for every collection (the code under test)."""
    return {
        r[0]: [r[1], r[2], r[3]]
        for r in db.execute(
            "SELECT u.id, c.* FROM information_unit u, fn_iu_three_axis_envelope_compute(u.id) c "
            "WHERE u.kind = 'collection'"
        ).fetchall()
    }


def differing(have: dict, want: dict, names: dict) -> list:
    """(code, have, want) where a collection's envelope differs from the model (missing counts as [])."""
    return sorted(
        (names.get(cid, str(cid)), have.get(cid), want.get(cid, [0, 0, 0]))
        for cid in set(have) | set(want)
        if have.get(cid) != want.get(cid, [0, 0, 0])
    )


def collection_names(db) -> dict:
    return dict(db.execute("SELECT id, code FROM information_unit WHERE kind = 'collection'").fetchall())


def last_refresh(db) -> tuple:
    return db.execute(f"SELECT reason, refreshed_count FROM {REFRESH_LOG} ORDER BY occurred_at DESC LIMIT 1").fetchone()


@pytest.mark.claim("S-3")
@pytest.mark.readonly
def test_dieu_envelope_is_27_23_36_cached_and_recomputed(db, evidence):
    """The DIEU envelope is 27/23/36, both as cached and as recomputed from its active pieces."""
    names = collection_names(db)
    dieu = next(cid for cid, code in names.items() if code == "DIEU")
    want, cached, recomputed = model.all_envelopes(db), model.cached_envelopes(db), computed(db)
    evidence.expect(
        "DIEU envelope by the model (against the seed's literal)", have=want[dieu], want=list(DIEU_ENVELOPE)
    )
    evidence.expect("DIEU cached envelope", have=cached[dieu], want=list(DIEU_ENVELOPE))
    evidence.expect("DIEU recomputed envelope", have=recomputed[dieu], want=list(DIEU_ENVELOPE))
    evidence.expect_no_rows("recomputed envelopes differing from the model", differing(recomputed, want, names))
    evidence.expect_no_rows("cached envelopes differing from the model", differing(cached, want, names))
    evidence.expect(
        "DIEU memberships (active, retired)",
        have=list(
            db.execute(
                "SELECT count(*) FILTER (WHERE p.lifecycle_state = 'active'), "
                "count(*) FILTER (WHERE p.lifecycle_state = 'retired') "
                "FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id WHERE m.collection_id = %s",
                [dieu],
            ).fetchone()
        ),
        want=[40, 2],
    )


@pytest.mark.claim("S-4")
def test_lifecycle_change_with_gate_on_refreshes_the_collections_holding_the_piece(db, evidence):
    """With the auto-refresh gate on, a piece's lifecycle change writes one refresh row covering its collections."""
    holders = holders_of(db, SHARED_PIECE)
    before = count(db, REFRESH_LOG)
    # every envelope row whose counts or refreshed_at change, new or removed ones included
    envelopes = changes.Watch(db, model.ENVELOPE, "collection_id", [*COUNTS, "refreshed_at"])
    db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [GATE])
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    evidence.before_after("refresh log rows", before, count(db, REFRESH_LOG))
    evidence.expect("refresh log delta", have=count(db, REFRESH_LOG) - before, want=1)
    evidence.expect("refresh reason", have=last_refresh(db)[0], want="iu_lifecycle_trigger")
    changed = {uuid.UUID(cid): span for cid, span in envelopes.changed().items()}
    touched = {cid for cid, (was, now) in changed.items() if was is None or now is None or was[-1] != now[-1]}
    evidence.expect(
        "envelopes rewritten (by refreshed_at)",
        have=sorted(holders.get(c, str(c)) for c in touched),
        want=sorted(holders.values()),
    )
    evidence.expect("still dirty", have=dirty_codes(db), want=[])
    want = model.all_envelopes(db, only=set(holders))
    cached = model.cached_envelopes(db, only=set(holders))
    evidence.expect_no_rows(
        "refreshed envelopes differing from the model",
        differing({c: cached.get(c) for c in holders}, {c: want.get(c, [0, 0, 0]) for c in holders}, holders),
    )
    evidence.expect_no_rows(
        "other envelopes whose counts changed (collection, before, after)",
        sorted(
            (str(cid), was and list(was[:-1]), now and list(now[:-1]))
            for cid, (was, now) in changed.items()
            if cid not in holders and (was is None or now is None or was[:-1] != now[:-1])
        ),
    )


@pytest.mark.claim("S-4")
def test_lifecycle_change_with_gate_off_only_marks_the_collections_dirty(db, evidence):
    """With the gate off (shipped), a lifecycle change writes no refresh row and leaves its collections dirty."""
    holders = holders_of(db, SHARED_PIECE)
    before, at_before = count(db, REFRESH_LOG), model.refreshed_at(db)
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    evidence.before_after("refresh log rows", before, count(db, REFRESH_LOG))
    evidence.expect("refresh log delta", have=count(db, REFRESH_LOG) - before, want=0)
    evidence.expect("dirty collections", have=dirty_codes(db), want=sorted(holders.values()))
    evidence.expect_no_rows("envelopes rewritten", sorted(map(str, model.touched(at_before, model.refreshed_at(db)))))


@pytest.mark.claim("S-5")
def test_refresh_if_stale_is_idempotent(db, evidence):
    """Refresh-if-stale refreshes the dirty scope once; a second call returns false and writes nothing."""
    holders = holders_of(db, SHARED_PIECE)
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    evidence.expect("dirty before", have=dirty_codes(db), want=sorted(holders.values()))
    before, at_before = count(db, REFRESH_LOG), model.refreshed_at(db)
    first = db.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('proof')").fetchone()[0]
    middle, at_middle = count(db, REFRESH_LOG), model.refreshed_at(db)
    second = db.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('proof')").fetchone()[0]
    after = count(db, REFRESH_LOG)
    evidence.expect("first call", have=first, want=True)
    evidence.expect("first call refresh rows", have=middle - before, want=1)
    evidence.expect("first call refreshed count", have=last_refresh(db)[1], want=len(holders))
    evidence.expect(
        "first call rewrote exactly the dirty envelopes (by refreshed_at)",
        have=sorted(holders.get(c, str(c)) for c in model.touched(at_before, at_middle)),
        want=sorted(holders.values()),
    )
    evidence.expect("second call", have=second, want=False)
    evidence.expect("second call refresh rows", have=after - middle, want=0)
    evidence.expect_no_rows(
        "envelopes the second call rewrote", sorted(map(str, model.touched(at_middle, model.refreshed_at(db))))
    )


@pytest.mark.claim("S-5")
@pytest.mark.parametrize("reason", ["", "  ", None], ids=["empty", "blank", "NULL"])
def test_refresh_if_stale_without_a_reason_is_refused_and_writes_nothing(db, evidence, reason):
    """Refresh-if-stale with an empty, blank or NULL reason is refused (IU006) and refreshes nothing."""
    holders = holders_of(db, SHARED_PIECE)
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = %s", [SHARED_PIECE])
    before, dirty = count(db, REFRESH_LOG), dirty_codes(db)
    evidence.expect("dirty before", have=dirty, want=sorted(holders.values()))
    state, message = sqlstate_of(db, "SELECT fn_iu_three_axis_envelope_refresh_if_stale(%s)", [reason])
    evidence.expect("SQLSTATE", have=state, want="IU006", note=message)
    evidence.expect("message", have=message, want="envelope refresh refused: reason is empty")
    evidence.expect("refresh log rows", have=count(db, REFRESH_LOG), want=before)
    evidence.expect("dirty after", have=dirty_codes(db), want=dirty)


@pytest.mark.claim("S-6")
def test_manual_refresh_clears_every_dirty_scope(db, evidence):
    """The operator's manual refresh clears every dirty mark and every cached envelope equals the model."""
    for code, state, a, b, c in MIXED:
        db.execute(
            "INSERT INTO information_unit (code, kind, lifecycle_state, axis_a, axis_b, axis_c, created_by) "
            "VALUES (%s, 'piece', %s, %s, %s, %s, 'iu-prove')",
            [code, state, a, b, c],
        )
    db.execute("SELECT fn_iu_compose('S6-MIXED', %s, 'iu-prove')", [[m[0] for m in MIXED]])
    # an active collection with axis values held as a member (compose refuses it; a raw row does not): not a piece
    db.execute(
        "INSERT INTO information_unit (code, kind, axis_a, axis_b, axis_c, created_by) "
        "VALUES ('S6-MIXED-NESTED', 'collection', 'x7', 'y7', 'z7', 'iu-prove')"
    )
    db.execute(
        "INSERT INTO iu_piece_membership (collection_id, piece_id, position) SELECT c.id, n.id, %s "
        "FROM information_unit c, information_unit n WHERE c.code = 'S6-MIXED' AND n.code = 'S6-MIXED-NESTED'",
        [len(MIXED) + 1],
    )
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = 'S6-RETIRED'")
    db.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code IN ('TPL-P01', 'DIEU-P05')")
    # a collection without members and one whose only member is draft: their envelope is 0/0/0
    db.execute(
        "INSERT INTO information_unit (code, kind, created_by) "
        "VALUES ('S6-EMPTY', 'collection', 'iu-prove'), ('S6-INERT', 'collection', 'iu-prove')"
    )
    db.execute(
        "INSERT INTO iu_piece_membership (collection_id, piece_id, position) SELECT c.id, p.id, 1 "
        "FROM information_unit c, information_unit p WHERE c.code = 'S6-INERT' AND p.code = 'S6-DRAFT'"
    )
    db.execute(
        "INSERT INTO iu_three_axis_envelope (collection_id, axis_a_count, axis_b_count, axis_c_count) "
        "SELECT id, 4, 4, 4 FROM information_unit WHERE code IN ('S6-EMPTY', 'S6-INERT') "
        "ON CONFLICT (collection_id) DO UPDATE SET axis_a_count = 4, axis_b_count = 4, axis_c_count = 4"
    )
    db.execute("UPDATE iu_three_axis_envelope SET axis_a_count = axis_a_count + 5")  # stale cache, not marked
    names = collection_names(db)
    evidence.expect(
        "dirty before",
        have=dirty_codes(db),
        want=sorted({"S6-MIXED", "S6-INERT", "DIEU"} | set(holders_of(db, "TPL-P01").values())),
    )
    at_before = model.refreshed_at(db)
    refreshed = db.execute("SELECT dot_iu_three_axis_envelope_refresh()").fetchone()[0]
    evidence.expect("collections refreshed", have=refreshed, want=len(names))
    evidence.expect("dirty after", have=dirty_codes(db), want=[])
    evidence.expect(
        "envelopes rewritten (by refreshed_at)",
        have=sorted(names[c] for c in model.touched(at_before, model.refreshed_at(db))),
        want=sorted(names.values()),
    )
    want = model.all_envelopes(db)
    cached = model.cached_envelopes(db)
    mixed = next(cid for cid, code in names.items() if code == "S6-MIXED")
    evidence.expect("S6-MIXED by the model (against the hand-derived table)", have=want[mixed], want=MIXED_ENVELOPE)
    evidence.expect("S6-MIXED cached", have=cached.get(mixed), want=MIXED_ENVELOPE)
    evidence.expect(
        "S6-EMPTY and S6-INERT cached (no active member)",
        have=[cached.get(cid) for code in ("S6-EMPTY", "S6-INERT") for cid, c in names.items() if c == code],
        want=[[0, 0, 0], [0, 0, 0]],
    )
    evidence.expect(
        "S6-MIXED recomputed by fn_iu_three_axis_envelope_compute (the incremental refreshes' rule)",
        have=list(db.execute("SELECT * FROM fn_iu_three_axis_envelope_compute(%s)", [mixed]).fetchone()),
        want=MIXED_ENVELOPE,
    )
    evidence.expect_no_rows("cached envelopes differing from the model", differing(cached, want, names))
    evidence.expect("log reason", have=last_refresh(db)[0], want="manual_full_refresh")


@pytest.mark.claim("S-6")
def test_the_envelope_counts_member_pieces_only_and_refuses_a_non_collection(db, evidence):
    """A collection held as a member is not counted as a piece; computing a piece's, unknown or NULL envelope: IU006."""
    db.execute(
        "INSERT INTO information_unit (code, kind, axis_a, axis_b, axis_c, created_by) "
        "VALUES ('S6-NESTED', 'collection', 'nested-a', 'nested-b', 'nested-c', 'iu-prove')"
    )
    db.execute("SELECT fn_iu_compose('S6-HOST', ARRAY['TPL-P01', 'TPL-P02'], 'iu-prove')")
    db.execute(
        "INSERT INTO iu_piece_membership (collection_id, piece_id, position) "
        "SELECT h.id, n.id, 3 FROM information_unit h, information_unit n "
        "WHERE h.code = 'S6-HOST' AND n.code = 'S6-NESTED'"
    )
    host = model.envelope_of_code(db, "S6-HOST")
    computed = db.execute(
        "SELECT * FROM fn_iu_three_axis_envelope_compute((SELECT id FROM information_unit WHERE code = 'S6-HOST'))"
    ).fetchone()
    evidence.expect("computed envelope of a collection holding a collection", have=list(computed), want=host)
    refused = {}
    for name, q in {
        "a piece": "SELECT id FROM information_unit WHERE code = 'TPL-P01'",
        "an unknown id": "SELECT '00000000-0000-0000-0000-000000000000'::uuid",
        "NULL": "SELECT NULL::uuid",
    }.items():
        state, message = sqlstate_of(db, f"SELECT * FROM fn_iu_three_axis_envelope_compute(({q}))")
        refused[name] = [state, message]
    evidence.expect(
        "SQLSTATE and message per non-collection",
        have=refused,
        want={
            "a piece": ["IU006", f"envelope compute refused: {model_id(db, 'TPL-P01')} is not a collection"],
            "an unknown id": [
                "IU006",
                "envelope compute refused: 00000000-0000-0000-0000-000000000000 is not a collection",
            ],
            "NULL": ["IU006", "envelope compute refused: NULL is not a collection"],
        },
    )


def model_id(db, code: str) -> str:
    return str(db.execute("SELECT id FROM information_unit WHERE code = %s", [code]).fetchone()[0])


@pytest.mark.claim("S-6")
def test_storing_envelopes_for_a_list_naming_a_collection_twice_stores_it_once_as_the_model(db, evidence):
    """Storing the envelopes of [A, B, A] writes A and B once each (2 rows), each equal to the model."""
    db.execute("SELECT fn_iu_compose('S6-TWICE', ARRAY['TPL-P01', 'TPL-P02'], 'iu-prove')")
    codes = {v: k for k, v in ids_of(db, ["DIEU", "S6-TWICE"]).items()}
    dieu, twice = codes["DIEU"], codes["S6-TWICE"]
    stored = db.execute(
        "SELECT fn_iu_three_axis_envelope_store(ARRAY[%s, %s, %s]::uuid[])", [twice, dieu, twice]
    ).fetchone()[0]
    have = {
        code: list(
            db.execute(
                "SELECT axis_a_count, axis_b_count, axis_c_count FROM iu_three_axis_envelope WHERE collection_id = %s",
                [cid],
            ).fetchone()
        )
        for code, cid in (("DIEU", dieu), ("S6-TWICE", twice))
    }
    evidence.expect("rows stored", have=stored, want=2)
    evidence.expect(
        "stored envelopes",
        have=have,
        want={"DIEU": list(DIEU_ENVELOPE), "S6-TWICE": model.envelope_of_code(db, "S6-TWICE")},
    )
