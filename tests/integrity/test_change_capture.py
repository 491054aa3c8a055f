"""Change capture (``iu_prove.changes``) sees every row the transaction writes, in
order, forgets what a rolled-back savepoint undid, refuses what it cannot see,
leaves nothing behind — and the scoped envelope check built on it still finds a
stale envelope far from anything a proof touched."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from iu_prove import changes, fingerprint, isolation
from iu_prove.dsn import connect
from proofs import _model as model

pytestmark = pytest.mark.claim("H-1")

TABLE = "iu_core_config"
KEY = "iu_core.capture_test"


def _capture_triggers(dsn: str) -> int:
    with connect(dsn) as conn:
        n = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'zz_iu_prove_capture%'").fetchone()[0]
        conn.rollback()
    return n


def test_capture_lists_every_write_in_order_and_nothing_a_savepoint_undid(substrate_clone, evidence):
    """Insert, update, delete: each image in order; a rolled-back savepoint's writes vanish; no trigger is left."""
    with connect(substrate_clone) as conn:
        conn.execute("SELECT 1")
        cap = changes.capture(conn, [TABLE, "information_unit"])
        mark = cap.mark()
        conn.execute(f"INSERT INTO {TABLE} (key, value, description) VALUES (%s, %s, 'capture test')", [KEY, '"a"'])
        conn.execute(f"UPDATE {TABLE} SET value = %s WHERE key = %s", ['"b"', KEY])
        with conn.transaction():
            conn.execute(f"UPDATE {TABLE} SET value = %s WHERE key = %s", ['"c"', KEY])
            conn.execute("SELECT 1")
        try:
            with conn.transaction():
                conn.execute(f"UPDATE {TABLE} SET value = %s WHERE key = %s", ['"undone"', KEY])
                conn.execute("SELECT 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        conn.execute(f"DELETE FROM {TABLE} WHERE key = %s", [KEY])
        deltas = cap.since(mark)
        events = [(side, image["value"]) for side, image in deltas[TABLE].events]
        evidence.expect(
            "events of the config row (side, value)",
            have=events,
            want=[("new", "a"), ("old", "a"), ("new", "b"), ("old", "b"), ("new", "c"), ("old", "c")],
        )
        evidence.expect("span of the key (before, after)", have=deltas[TABLE].by_key("key")[KEY], want=(None, None))
        evidence.expect("net change of the config table", have=deltas[TABLE].net(), want=([], []))
        evidence.expect("information_unit events", have=deltas["information_unit"].events, want=[])
        later = cap.mark()
        conn.execute(f"UPDATE {TABLE} SET value = value WHERE key = (SELECT min(key) FROM {TABLE})")
        same = cap.since(later)[TABLE]
        evidence.expect("an update to the same values is still a write", have=len(same.events), want=2)
        evidence.expect("but no net change", have=same.net(), want=([], []))
        conn.rollback()
    evidence.expect("capture triggers left after the rollback", have=_capture_triggers(substrate_clone), want=0)


@pytest.mark.parametrize(
    "escape",
    ["TRUNCATE iu_core_config_capture_probe", "ALTER TABLE information_unit DISABLE TRIGGER zz_iu_prove_capture_upd",
     "SET LOCAL session_replication_role = replica"],
    ids=["truncate", "trigger-disabled", "replication-role"],
)  # fmt: skip
def test_what_the_triggers_cannot_see_is_refused_not_missed(substrate_clone, escape, evidence):
    """A TRUNCATE, a disabled capture trigger or triggers silenced by the replication role: since() refuses."""
    with connect(substrate_clone) as conn:
        conn.execute("CREATE TABLE iu_core_config_capture_probe (k int)")
        conn.execute("INSERT INTO iu_core_config_capture_probe VALUES (1)")
        cap = changes.capture(conn, ["iu_core_config_capture_probe", "information_unit"])
        mark = cap.mark()
        conn.execute(escape)
        with pytest.raises(changes.CaptureLost) as lost:
            cap.since(mark)
        evidence.record("refusal", str(lost.value))
        conn.rollback()


def test_capture_needs_the_proofs_open_transaction_and_the_right_to_add_triggers(substrate_clone, evidence):
    """Outside a transaction: refused before anything is written; without the right: CaptureUnavailable, tx usable."""
    with connect(substrate_clone, autocommit=True) as conn, pytest.raises(ValueError, match="open transaction"):
        changes.capture(conn, [TABLE])
    with connect(substrate_clone) as conn:
        with pytest.raises(ValueError, match="open transaction"):
            changes.capture(conn, [TABLE])  # idle: no transaction yet
        conn.execute("CREATE ROLE iu_capture_test_reader")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO iu_capture_test_reader")
        conn.execute("SET LOCAL ROLE iu_capture_test_reader")
        with pytest.raises(changes.CaptureUnavailable):
            changes.capture(conn, [TABLE])
        evidence.expect(
            "the transaction goes on", have=conn.execute("SELECT count(*) > 0 FROM iu_core_config").fetchone()[0],
            want=True,
        )  # fmt: skip
        conn.rollback()
    evidence.expect("capture triggers left", have=_capture_triggers(substrate_clone), want=0)


BULK_COLLECTIONS = """
INSERT INTO information_unit (id, code, kind, lifecycle_state, axis_a, axis_b, axis_c, body, created_by)
SELECT md5('cap-piece:' || g)::uuid, 'CAP-P' || g, 'piece', 'active', 'a' || g, 'b' || (g % 7), NULL, 'b', 'iu-cap'
  FROM generate_series(1, 3000) g;
INSERT INTO information_unit (id, code, kind, lifecycle_state, created_by)
SELECT md5('cap-coll:' || g)::uuid, 'CAP-C' || g, 'collection', 'active', 'iu-cap' FROM generate_series(1, 1000) g;
INSERT INTO iu_piece_membership (collection_id, piece_id, position)
SELECT md5('cap-coll:' || g)::uuid, md5('cap-piece:' || ((g - 1) * 3 + k))::uuid, k
  FROM generate_series(1, 1000) g CROSS JOIN generate_series(1, 3) k;
SELECT dot_iu_three_axis_envelope_refresh();
"""


# each leaves exactly one clean envelope wrong, far from the first collections (CAP-P2998, in
# collection 1000 with CAP-P2999, holds b2: its distinct axis b values drop from 3 to 2)
FAR_WRITES = {
    "cache-skewed": "UPDATE iu_three_axis_envelope SET axis_b_count = 9 "
    "WHERE collection_id = md5('cap-coll:1000')::uuid",
    "piece-axis-moved": "UPDATE information_unit SET axis_b = 'b2' WHERE code = 'CAP-P2999'",
    "membership-deleted-unmarked": "DELETE FROM iu_piece_membership WHERE collection_id = md5('cap-coll:999')::uuid "
    "AND position = 3; DELETE FROM iu_three_axis_envelope_dirty WHERE collection_id = md5('cap-coll:999')::uuid",
    "membership-added-unmarked": "INSERT INTO iu_piece_membership (collection_id, piece_id, position) "
    "VALUES (md5('cap-coll:500')::uuid, md5('cap-piece:1')::uuid, 4); "
    "DELETE FROM iu_three_axis_envelope_dirty WHERE collection_id = md5('cap-coll:500')::uuid",
}


@pytest.mark.parametrize("far_write", list(FAR_WRITES.values()), ids=list(FAR_WRITES))
def test_the_scoped_envelope_check_finds_one_far_stale_collection(substrate_clone, far_write, evidence):
    """Among 1,000 collections, one far write that leaves a clean envelope wrong is found by the scoped check."""
    with connect(substrate_clone) as conn:
        conn.execute(BULK_COLLECTIONS)
        conn.commit()
        conn.execute("SELECT 1")
        clean = model.CleanEnvelopes(conn)
        evidence.expect("stale before any write (scoped)", have=clean.stale(), want=[])
        conn.execute(far_write)
        stale = {uuid.UUID(cid) for cid, *_ in clean.stale()}
        everywhere = {uuid.UUID(cid) for cid, *_ in model.stale_cache(conn)}
        evidence.expect("stale collections: scoped check vs whole check", have=stale, want=everywhere)
        evidence.expect("stale collections found", have=len(stale), want=1)
        conn.execute("SELECT dot_iu_three_axis_envelope_refresh()")  # rewrites every row, and right
        evidence.expect("stale after a full refresh (scoped, whole)", have=[clean.stale(), model.stale_cache(conn)],
                        want=[[], []])  # fmt: skip
        conn.execute("UPDATE iu_three_axis_envelope SET axis_c_count = 7 WHERE collection_id = md5('cap-coll:3')::uuid")
        evidence.expect(
            "one row skewed after the full refresh (scoped, whole)",
            have=[[c for c, *_ in clean.stale()], [c for c, *_ in model.stale_cache(conn)]],
            want=[[str(conn.execute("SELECT md5('cap-coll:3')::uuid").fetchone()[0])]] * 2,
        )
        conn.rollback()


def test_a_watch_reads_the_same_changes_with_capture_off(substrate_clone, evidence):
    """IU_PROVE_CHANGE_CAPTURE off: capture is unavailable and a watch reads whole tables, finding the same rows."""
    seen = {}
    for on in (True, False):
        changes.enable(on)
        try:
            with connect(substrate_clone) as conn:
                conn.execute("SELECT 1")
                watch = changes.Watch(conn, "information_unit", "code", ["lifecycle_state", "axis_a"])
                evidence.expect(f"capture in use (on={on})", have=watch.capture is not None, want=on)
                conn.execute("UPDATE information_unit SET lifecycle_state = 'retired' WHERE code = 'TPL-P02'")
                conn.execute("UPDATE information_unit SET axis_a = axis_a WHERE code = 'TPL-P03'")  # no change
                conn.execute("INSERT INTO information_unit (code, kind, created_by) VALUES ('W-NEW', 'piece', 'iu-w')")
                first = watch.changed()
                conn.execute("DELETE FROM information_unit WHERE code = 'W-NEW'")
                seen[on] = (first, watch.changed())
                conn.rollback()
        finally:
            changes.enable(True)
    evidence.expect("changes with capture off", have=seen[False], want=seen[True])
    evidence.expect("changed rows, then the new row removed", have=[sorted(seen[True][0]), sorted(seen[True][1])],
                    want=[["TPL-P02", "W-NEW"], ["W-NEW"]])  # fmt: skip


def test_a_large_table_scanned_first_in_a_transaction_is_scanned_throughout(substrate_clone, monkeypatch, evidence):
    """Capture unavailable at a table's first fingerprint (e.g. autovacuum held it): every later one scans too."""
    monkeypatch.setattr(fingerprint, "LARGE_ROWS", 1)
    with connect(substrate_clone, autocommit=True) as conn:
        conn.execute("ANALYZE information_unit")
    with connect(substrate_clone) as conn:
        conn.execute("SELECT set_config(%s, 'capture-test', true)", [isolation.MARKER])
        changes.enable(False)
        try:
            first = fingerprint.of_schema(conn)
        finally:
            changes.enable(True)
        evidence.expect("fingerprinted as large, by a scan", have=first["information_unit"].horizon is not None,
                        want=True)  # fmt: skip
        conn.execute("INSERT INTO information_unit (code, kind, created_by) VALUES ('T-UNDONE', 'piece', 'iu-t')")
        conn.execute("DELETE FROM information_unit WHERE code = 'T-UNDONE'")
        evidence.expect("a change undone", have=sorted(fingerprint.diff(first, fingerprint.of_schema(conn))), want=[])
        conn.execute("UPDATE information_unit SET body = body || '.' WHERE code = 'TPL-P01'")
        evidence.expect(
            "a change kept",
            have=sorted(fingerprint.diff(first, fingerprint.of_schema(conn))),
            want=["information_unit"],
        )
        armed = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'zz_iu_prove_capture%'").fetchone()[0]
        evidence.expect("no capture trigger was added", have=armed, want=0)
        conn.rollback()
