"""Independent oracles shared by the proofs: Python models of the fixture facts.

Nothing here calls the code under test: values are read raw from the tables
and computed in Python by the rule the design states.
"""

from __future__ import annotations

import uuid

import psycopg

from iu_prove import changes

ENVELOPE_ROWS = """
SELECT p.lifecycle_state, p.axis_a, p.axis_b, p.axis_c
  FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
 WHERE m.collection_id = %s AND p.kind = 'piece'
"""


def envelope(db: psycopg.Connection, collection_id: uuid.UUID) -> list[int]:
    """The design's rule: per axis, the number of distinct (non-NULL) values among the collection's active pieces."""
    rows = db.execute(ENVELOPE_ROWS, [collection_id]).fetchall()
    active = [r[1:] for r in rows if r[0] == "active"]
    return [len({piece[axis] for piece in active if piece[axis] is not None}) for axis in range(3)]


def envelope_of_code(db: psycopg.Connection, code: str) -> list[int]:
    row = db.execute("SELECT id FROM information_unit WHERE code = %s AND kind = 'collection'", [code]).fetchone()
    if row is None:
        raise LookupError(f"no collection {code!r}")
    return envelope(db, row[0])


def cached_envelopes(db: psycopg.Connection, only: set[uuid.UUID] | None = None) -> dict[uuid.UUID, list[int]]:
    """Every cached envelope (or those of the collections in ``only``), read raw."""
    query, params = "SELECT collection_id, axis_a_count, axis_b_count, axis_c_count FROM iu_three_axis_envelope", []
    if only is not None:
        query, params = query + " WHERE collection_id = ANY(%s)", [list(only)]
    return {r[0]: [r[1], r[2], r[3]] for r in db.execute(query, params).fetchall()}


def refreshed_at(db: psycopg.Connection) -> dict[uuid.UUID, object]:
    """Every envelope row's refreshed_at: the refresh scope is read from here, not from the refresh log."""
    return dict(db.execute("SELECT collection_id, refreshed_at FROM iu_three_axis_envelope").fetchall())


def touched(before: dict[uuid.UUID, object], after: dict[uuid.UUID, object]) -> set[uuid.UUID]:
    """Envelope rows written between two snapshots: new, or with a different refreshed_at."""
    return {cid for cid, at in after.items() if before.get(cid) != at} | (before.keys() - after.keys())


ENVELOPE = "iu_three_axis_envelope"


def envelope_writes(db: psycopg.Connection) -> changes.Watch:
    """The envelope rows written between one ``changed()`` and the next — new, removed, or with a
    different ``refreshed_at``, as :func:`touched` defines them — at the cost of what was written
    (change capture; every row's ``refreshed_at`` where triggers cannot be added)."""
    return changes.Watch(db, ENVELOPE, "collection_id", ["refreshed_at"])


ASCII_SPACE = " \t\n\r\f\v"


def actor_verdict(actor: str | None) -> str:
    """The actor rule (migration 001) written out: "refused", "accepted" or "either".

    Refused: NULL, empty, an ASCII control character, whitespace only or at an
    edge, a pattern character (% * ?), more than 200 characters. Accepted: every
    other actor made of printable characters, stored and matched exactly.
    "either" only where the database's locale decides (a non-ASCII control or
    space character, which [[:cntrl:]] / [[:space:]] may or may not match).
    """
    import unicodedata

    if actor is None or actor == "":
        return "refused"
    if (
        any(ord(c) < 32 or ord(c) == 127 for c in actor)
        or any(c in "%*?" for c in actor)
        or len(actor) > 200
        or actor[0] in ASCII_SPACE
        or actor[-1] in ASCII_SPACE
    ):
        return "refused"
    if any(ord(c) > 127 and unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp") for c in actor):
        return "either"
    return "accepted"


ALL_MEMBERSHIPS = """
SELECT m.collection_id, p.kind, p.lifecycle_state, p.axis_a, p.axis_b, p.axis_c
  FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
"""


def all_envelopes(db: psycopg.Connection, only: set[uuid.UUID] | None = None) -> dict[uuid.UUID, list[int]]:
    """``envelope`` for every collection with memberships (or those in ``only``), from one raw read:
    a member that is not a piece (a collection held as a member) counts for nothing."""
    axes: dict[uuid.UUID, list[set[str]]] = {}
    query, params = ALL_MEMBERSHIPS, []
    if only is not None:
        query, params = query + " WHERE m.collection_id = ANY(%s)", [list(only)]
    for cid, kind, state, *values in db.execute(query, params).fetchall():
        seen = axes.setdefault(cid, [set(), set(), set()])
        if kind == "piece" and state == "active":
            for axis, value in enumerate(values):
                if value is not None:
                    seen[axis].add(value)
    return {cid: [len(s) for s in sets] for cid, sets in axes.items()}


def stale_cache(db: psycopg.Connection, only: set[uuid.UUID] | None = None) -> list[tuple[str, list[int], list[int]]]:
    """Collections not marked dirty whose cached envelope differs from the model: (id, cached, model);
    of every collection, or of those in ``only``."""
    scope, params = ("", []) if only is None else (" WHERE collection_id = ANY(%s)", [list(only)])
    dirty = {r[0] for r in db.execute("SELECT collection_id FROM iu_three_axis_envelope_dirty" + scope, params)}
    cached = {
        r[0]: [r[1], r[2], r[3]]
        for r in db.execute(
            "SELECT collection_id, axis_a_count, axis_b_count, axis_c_count FROM iu_three_axis_envelope" + scope, params
        )
    }
    want = all_envelopes(db, only)
    return [
        (str(cid), have, want.get(cid, [0, 0, 0]))
        for cid, have in cached.items()
        if cid not in dirty and have != want.get(cid, [0, 0, 0])
    ]


ENVELOPE_INPUTS = ("information_unit", "iu_piece_membership", "iu_three_axis_envelope_dirty")


class CleanEnvelopes:
    """``stale()``: what :func:`stale_cache` returns for every collection, at the cost of what the
    transaction wrote since the previous ``stale()``, given that no clean envelope was stale when
    this object was made (the start; check that once, in full).

    Read from change capture (:mod:`iu_prove.changes`). After each step, only collections
    written since the previous check can have changed status. One whose memberships, member
    pieces, own row or dirty mark were ever written since the start is checked against the
    Python model; one whose only writes are to its envelope row (a full refresh rewrites every
    row) has the inputs it had at the start, so its model envelope is its cached one at the start
    — the image the capture logged before its first write (kept in a temporary table) — which a
    clean row must still hold. Where the role may not add triggers, every collection is read in
    full.
    """

    def __init__(self, db: psycopg.Connection):
        self.db = db
        try:
            self.capture: changes.Capture | None = changes.capture(db, (*ENVELOPE_INPUTS, ENVELOPE))
        except changes.CaptureUnavailable:
            self.capture = None
            return
        self.last = self.capture.mark()
        self.inputs: set[uuid.UUID] = set()  # collections whose inputs were written since the start
        self.first = f"iu_prove_first_envelopes_{uuid.uuid4().hex[:12]}"
        db.execute(
            f"CREATE TEMP TABLE {self.first} (collection_id uuid PRIMARY KEY, side text, image jsonb) ON COMMIT DROP"
        )

    def _inputs_written(self, since: int) -> set[uuid.UUID]:
        """Collections whose memberships, member pieces, own row or dirty mark were written since the mark."""
        assert self.capture is not None
        deltas = self.capture.since(since, ENVELOPE_INPUTS)
        ids = deltas["iu_piece_membership"].keys("collection_id") | deltas["iu_three_axis_envelope_dirty"].keys(
            "collection_id"
        )
        units = deltas["information_unit"].keys("id")  # a collection's own row, or a piece's
        ids |= units
        ids |= {
            str(r[0])
            for r in self.db.execute(
                "SELECT m.collection_id FROM iu_piece_membership m WHERE m.piece_id = ANY(%s::uuid[])", [list(units)]
            )
        }
        return {uuid.UUID(i) for i in ids}

    def stale(self) -> list[tuple[str, list[int], list[int]]]:
        if self.capture is None:
            return stale_cache(self.db)
        now = self.capture.mark()
        fresh_inputs = self._inputs_written(self.last)
        self.inputs |= fresh_inputs
        log = f"pg_temp.{changes.LOG}"
        # the first image of every envelope row written since the last check, if it has none yet
        self.db.execute(
            f"INSERT INTO {self.first} (collection_id, side, image) "
            f"SELECT DISTINCT ON (l.image->>'collection_id') (l.image->>'collection_id')::uuid, l.side, l.image "
            f"FROM {log} l WHERE l.tbl = %s AND l.seq > %s AND l.seq <= %s "
            "ORDER BY l.image->>'collection_id', l.seq ON CONFLICT (collection_id) DO NOTHING",
            [ENVELOPE, self.last, now],
        )
        written = (
            f"SELECT DISTINCT (l.image->>'collection_id')::uuid AS cid FROM {log} l "
            "WHERE l.tbl = %s AND l.seq > %s AND l.seq <= %s"
        )
        rewritten_with_inputs = {
            r[0]
            for r in self.db.execute(
                f"SELECT w.cid FROM ({written}) w WHERE w.cid = ANY(%s::uuid[])",
                [ENVELOPE, self.last, now, list(self.inputs)],
            )
        }
        kept = self.db.execute(
            f"""SELECT e.collection_id, ARRAY[e.axis_a_count, e.axis_b_count, e.axis_c_count],
                       ARRAY[(f.image->>'axis_a_count')::int, (f.image->>'axis_b_count')::int,
                             (f.image->>'axis_c_count')::int]
                  FROM ({written}) w
                  JOIN {self.first} f ON f.collection_id = w.cid
                  JOIN iu_three_axis_envelope e ON e.collection_id = w.cid
                 WHERE f.side = 'old'
                   AND NOT (w.cid = ANY(%s::uuid[]))
                   AND NOT EXISTS (SELECT 1 FROM iu_three_axis_envelope_dirty d WHERE d.collection_id = w.cid)
                   AND ARRAY[e.axis_a_count, e.axis_b_count, e.axis_c_count]
                       IS DISTINCT FROM ARRAY[(f.image->>'axis_a_count')::int, (f.image->>'axis_b_count')::int,
                                              (f.image->>'axis_c_count')::int]""",
            [ENVELOPE, self.last, now, list(self.inputs)],
        ).fetchall()
        self.capture.check()
        self.last = now
        found = stale_cache(self.db, only=fresh_inputs | rewritten_with_inputs)
        return found + [(str(cid), list(have), list(want)) for cid, have, want in kept]


# --- digests (migrations 004 and 006), from hashlib over the canonical text ---


def sha256_hex(text: str) -> str:
    """fn_iu_sha256_hex: the hex sha256 of the text's UTF-8 bytes."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(body: str) -> str:
    """information_unit.content_digest: sha256_hex(body)."""
    return sha256_hex(body)


def canonical_text(pieces: list[tuple[str, str]]) -> str:
    """The text a membership or piece-list digest hashes: ``code:content_digest(body)`` per piece, LF-joined."""
    return "\n".join(f"{code}:{content_digest(body)}" for code, body in pieces)


def pieces_digest(pieces: list[tuple[str, str]]) -> str:
    """The digest of an ordered list of (code, body) pieces: sha256_hex(canonical_text)."""
    return sha256_hex(canonical_text(pieces))


def bodies(db: psycopg.Connection, codes: list[str] | None = None) -> dict[str, str]:
    """code -> body of every piece (or of the pieces named in ``codes``), read raw."""
    if codes is None:
        return dict(db.execute("SELECT code, body FROM information_unit WHERE kind = 'piece'").fetchall())
    return dict(db.execute("SELECT code, body FROM information_unit WHERE kind = 'piece' AND code = ANY(%s)", [codes]))


def members(db: psycopg.Connection, collection_id: uuid.UUID) -> list[tuple[str, str]]:
    """A collection's (piece code, body) in position order, read raw."""
    return [
        (code, body)
        for code, body in db.execute(
            "SELECT p.code, p.body FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id "
            "WHERE m.collection_id = %s ORDER BY m.position",
            [collection_id],
        ).fetchall()
    ]
