"""S-7: composing a collection: refusals write nothing, digests are deterministic.

Oracle: Python's ``hashlib`` over the canonical text that migrations 004 and
006 document, never one SQL digest function checked against another:

- a piece's ``content_digest`` is the hex sha256 of the UTF-8 bytes of its body;
- a collection's membership digest (``fn_iu_membership_digest``), an ordered
  piece list's digest (``fn_iu_pieces_digest``), a template's
  ``template_digest`` and a lineage row's ``instance_digest`` are all the hex
  sha256 of the UTF-8 bytes of ``<piece code>:<content_digest>`` per piece, in
  position order, joined by a line feed (no trailing one); a collection without
  memberships hashes the empty text; a unit that is not a collection has NULL.

Boundaries: one piece (no separator), a body with non-ASCII characters and a
line feed of its own, the empty membership. Branches of the refusal: unknown,
retired, non-piece, empty list.
"""

import pytest

from proofs import _model as model
from proofs._substrate import counts, sqlstate_of

TOUCHED = ["information_unit", "iu_piece_membership", "iu_three_axis_envelope_dirty"]
# each refusal alone: (code, pieces) -> (SQLSTATE, the message's start), as migration 007/044 words them
BAD_COMPOSITIONS = {
    "unknown piece": (
        ("S7-BAD", ["TPL-P01", "NO-SUCH-PIECE"]),
        ("IU005", "compose refused: unknown piece(s): NO-SUCH-PIECE"),
    ),
    "retired piece": (("S7-BAD", ["TPL-P01", "DIEU-R01"]), ("IU005", "compose refused: retired piece(s): DIEU-R01")),
    "a collection as piece": (("S7-BAD", ["TPL-P01", "DIEU"]), ("IU005", "compose refused: not a piece: DIEU")),
    "no pieces": (("S7-BAD", []), ("IU006", "compose refused: piece list for S7-BAD is empty")),
    "NULL piece list": (("S7-BAD", None), ("IU006", "compose refused: piece list for S7-BAD is empty")),
    "a NULL among the pieces": (
        ("S7-BAD", ["TPL-P01", None]),
        ("IU006", "compose refused: piece list for S7-BAD contains NULL"),
    ),
    "empty code": (("", ["TPL-P01"]), ("IU006", "compose refused: collection code is empty")),
    "blank code": (("  ", ["TPL-P01"]), ("IU006", "compose refused: collection code is empty")),
    "NULL code": ((None, ["TPL-P01"]), ("IU006", "compose refused: collection code is empty")),
    "a code that exists": (("DIEU", ["TPL-P01"]), ("IU006", "compose refused: code 'DIEU' already exists")),
}
UNICODE_BODY = "Ünïcödé piece — 演员\nsecond line: ';--"


@pytest.mark.claim("S-7")
@pytest.mark.parametrize("case", list(BAD_COMPOSITIONS))
def test_composing_from_a_bad_piece_raises_and_writes_nothing(db, evidence, case):
    """Composing from an unknown, retired or non-piece unit raises a clear error and writes nothing."""
    (code, pieces), (want_state, want_message) = BAD_COMPOSITIONS[case]
    before = counts(db, TOUCHED)
    state, message = sqlstate_of(db, "SELECT fn_iu_compose(%s, %s::text[], 'iu-prove')", [code, pieces])
    evidence.record("error", f"{state}: {message}")
    evidence.expect("SQLSTATE", have=state, want=want_state)
    evidence.expect("message (its start)", have=message[: len(want_message)], want=want_message, note=message)
    evidence.expect("row counts after the refusal", have=counts(db, TOUCHED), want=before)


# fn_iu_pieces_digest's refusals, each alone: pieces -> (SQLSTATE, message)
BAD_PIECE_LISTS = {
    "no pieces": ([], ("IU006", "digest refused: piece list is empty")),
    "NULL list": (None, ("IU006", "digest refused: piece list is empty")),
    "a NULL among the pieces": (["TPL-P01", None], ("IU006", "digest refused: piece list contains NULL")),
    "unknown piece": (["TPL-P01", "NO-SUCH-PIECE"], ("IU005", "digest refused: unknown piece(s): NO-SUCH-PIECE")),
    "a collection as piece": (["TPL-P01", "DIEU"], ("IU005", "digest refused: not a piece: DIEU")),
}


@pytest.mark.claim("S-7")
@pytest.mark.parametrize("case", list(BAD_PIECE_LISTS))
def test_digesting_a_bad_piece_list_is_refused_with_its_reason(db, evidence, case):
    """The piece-list digest refuses an empty, NULL-holding, unknown or non-piece list, each with its own error."""
    pieces, (want_state, want_message) = BAD_PIECE_LISTS[case]
    state, message = sqlstate_of(db, "SELECT fn_iu_pieces_digest(%s::text[])", [pieces])
    evidence.expect("SQLSTATE", have=state, want=want_state, note=message)
    evidence.expect("message", have=message, want=want_message)


def _digest(db, code: str) -> str | None:
    return db.execute("SELECT fn_iu_membership_digest(id) FROM information_unit WHERE code = %s", [code]).fetchone()[0]


@pytest.mark.claim("S-7")
def test_the_membership_digest_is_sha256_of_the_ordered_pieces_canonical_text(db, evidence):
    """A collection's digest is sha256 of its pieces' code:content_digest lines in order: same pieces, same digest."""
    db.execute(
        "INSERT INTO information_unit (code, kind, body, axis_a, created_by) VALUES ('S7-UNICODE', 'piece', %s, 'u', "
        "'iu-prove')",
        [UNICODE_BODY],
    )
    pieces = ["TPL-P03", "S7-UNICODE", "TPL-P01", "TPL-P02"]
    for code in ("S7-A", "S7-B"):
        db.execute("SELECT fn_iu_compose(%s, %s, 'iu-prove')", [code, pieces])
    db.execute("SELECT fn_iu_compose('S7-ONE', ARRAY['TPL-P05'], 'iu-prove')")
    bodies = model.bodies(db, [*pieces, "TPL-P05"])
    want = model.pieces_digest([(c, bodies[c]) for c in pieces])
    evidence.expect(
        "content digest of the unicode piece",
        have=db.execute("SELECT content_digest FROM information_unit WHERE code = 'S7-UNICODE'").fetchone()[0],
        want=model.content_digest(UNICODE_BODY),
    )
    evidence.expect("digest of S7-A", have=_digest(db, "S7-A"), want=want)
    evidence.expect("digest of S7-B", have=_digest(db, "S7-B"), want=want)
    evidence.expect(
        "digest of the piece list", have=db.execute("SELECT fn_iu_pieces_digest(%s)", [pieces]).fetchone()[0], want=want
    )
    evidence.expect(
        "digest of the piece list, sorted (order matters)",
        have=db.execute("SELECT fn_iu_pieces_digest(%s)", [sorted(pieces)]).fetchone()[0],
        want=model.pieces_digest([(c, bodies[c]) for c in sorted(pieces)]),
    )
    evidence.expect_true("the sorted list digests differently", want != model.pieces_digest(
        [(c, bodies[c]) for c in sorted(pieces)]
    ))  # fmt: skip
    evidence.expect("digest of a one-piece collection", have=_digest(db, "S7-ONE"), want=model.pieces_digest(
        [("TPL-P05", bodies["TPL-P05"])]
    ))  # fmt: skip
    db.execute(
        "DELETE FROM iu_piece_membership WHERE collection_id = (SELECT id FROM information_unit WHERE code = 'S7-ONE')"
    )
    evidence.expect("digest of a collection without memberships", have=_digest(db, "S7-ONE"), want=model.sha256_hex(""))
    evidence.expect("digest of a piece (not a collection)", have=_digest(db, "TPL-P05"), want=None)


@pytest.mark.claim("S-7")
@pytest.mark.readonly
def test_every_stored_digest_is_sha256_of_its_canonical_text(db, evidence):
    """Every piece's content digest, template digest and recorded instance digest equals hashlib's over its text."""
    bodies = model.bodies(db)
    pieces = db.execute("SELECT code, body, content_digest FROM information_unit WHERE kind = 'piece'").fetchall()
    # every piece of the target is checked: the fixtures' 66 at least (a staging database holds more)
    evidence.expect(
        "pieces checked: the fixtures' 66 or more", have=len(pieces) >= 66, want=True, note=str(len(pieces))
    )
    evidence.expect_no_rows(
        "pieces whose content_digest is not sha256(body)",
        [(c, d) for c, b, d in pieces if d != model.content_digest(b)],
    )
    templates = db.execute("SELECT code, version, piece_codes, template_digest FROM iu_collection_template").fetchall()
    evidence.expect("templates", have=len(templates), want=12)
    evidence.expect_no_rows(
        "templates whose template_digest is not sha256 of their pieces' canonical text",
        [(c, v, d) for c, v, codes, d in templates if d != model.pieces_digest([(p, bodies[p]) for p in codes])],
    )
    lineage = db.execute(
        "SELECT l.instance_collection_id, u.code, l.instance_digest, fn_iu_membership_digest(u.id) "
        "FROM iu_collection_template_instance_lineage l JOIN information_unit u ON u.id = l.instance_collection_id"
    ).fetchall()
    evidence.expect("background instances", have=len(lineage), want=12)
    wrong = []
    for cid, code, recorded, current in lineage:
        want = model.pieces_digest(model.members(db, cid))
        if (recorded, current) != (want, want):
            wrong.append((code, recorded, current, want))
    evidence.expect_no_rows("instances whose recorded or current digest is not hashlib's (code, rec, cur, want)", wrong)


@pytest.mark.claim("S-7")
def test_the_membership_digest_of_an_empty_collection_is_sha256_of_nothing_and_of_a_non_collection_null(db, evidence):
    """An empty collection's digest is sha256 of the empty text; a piece, an unknown id and NULL have none."""
    db.execute("INSERT INTO information_unit (code, kind, created_by) VALUES ('S7-EMPTY', 'collection', 'iu-prove')")
    ids = {
        "empty collection": "SELECT id FROM information_unit WHERE code = 'S7-EMPTY'",
        "a piece": "SELECT id FROM information_unit WHERE code = 'TPL-P01'",
        "an unknown id": "SELECT gen_random_uuid()",
        "NULL": "SELECT NULL::uuid",
    }
    have = {name: db.execute(f"SELECT fn_iu_membership_digest(({q}))").fetchone()[0] for name, q in ids.items()}
    evidence.expect(
        "membership digests",
        have=have,
        want={"empty collection": model.sha256_hex(""), "a piece": None, "an unknown id": None, "NULL": None},
    )
