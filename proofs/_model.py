"""Independent oracles shared by the proofs: Python models of the fixture facts.

Nothing here calls the code under test: values are read raw from the tables
and computed in Python by the rule the design states.
"""

from __future__ import annotations

import uuid

import psycopg

ENVELOPE_ROWS = """
SELECT p.lifecycle_state, p.axis_a, p.axis_b, p.axis_c
  FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
 WHERE m.collection_id = %s
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


def cached_envelopes(db: psycopg.Connection) -> dict[uuid.UUID, list[int]]:
    return {
        r[0]: [r[1], r[2], r[3]]
        for r in db.execute(
            "SELECT collection_id, axis_a_count, axis_b_count, axis_c_count FROM iu_three_axis_envelope"
        ).fetchall()
    }


def refreshed_at(db: psycopg.Connection) -> dict[uuid.UUID, object]:
    """Every envelope row's refreshed_at: the refresh scope is read from here, not from the refresh log."""
    return dict(db.execute("SELECT collection_id, refreshed_at FROM iu_three_axis_envelope").fetchall())


def touched(before: dict[uuid.UUID, object], after: dict[uuid.UUID, object]) -> set[uuid.UUID]:
    """Envelope rows written between two snapshots: new, or with a different refreshed_at."""
    return {cid for cid, at in after.items() if before.get(cid) != at} | (before.keys() - after.keys())
