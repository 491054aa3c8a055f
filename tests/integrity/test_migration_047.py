"""Migration 047 at both heads: the set-based full refresh leaves every envelope,
dirty mark and log row as 022's per-collection refresh did, and its down script
restores 046 exactly."""

from __future__ import annotations

from iu_prove import migrations, paths, seed
from iu_prove.dsn import connect

DOWN = paths.MIGRATIONS / "down" / "047_refresh_every_envelope_in_one_statement.down.sql"
REFRESH = "dot_iu_three_axis_envelope_refresh()"

# edges of the count rule beside the fixtures: an empty collection, one of draft, retired and
# NULL-axis pieces only, and one whose pieces share values on one axis and not on another
EDGE_WORLD = """
INSERT INTO information_unit (code, kind, lifecycle_state, axis_a, axis_b, axis_c, body, created_by)
VALUES ('T47-P1', 'piece', 'active',  'x', 'y', NULL, 'p1', 'test-047'),
       ('T47-P2', 'piece', 'active',  'x', 'z', 'w',  'p2', 'test-047'),
       ('T47-P3', 'piece', 'draft',   'q', 'q', 'q',  'p3', 'test-047'),
       ('T47-P4', 'piece', 'retired', 'r', 'r', 'r',  'p4', 'test-047'),
       ('T47-P5', 'piece', 'active',  NULL, NULL, NULL, 'p5', 'test-047');
INSERT INTO information_unit (code, kind, lifecycle_state, created_by)
VALUES ('T47-EMPTY', 'collection', 'active', 'test-047'),
       ('T47-INERT', 'collection', 'active', 'test-047'),
       ('T47-MIXED', 'collection', 'retired', 'test-047');
INSERT INTO iu_piece_membership (collection_id, piece_id, position)
SELECT c.id, p.id, row_number() OVER (PARTITION BY c.code ORDER BY p.code)
  FROM information_unit c JOIN information_unit p
    ON (c.code, p.code) IN (('T47-INERT', 'T47-P3'), ('T47-INERT', 'T47-P4'), ('T47-INERT', 'T47-P5'),
                            ('T47-MIXED', 'T47-P1'), ('T47-MIXED', 'T47-P2'), ('T47-MIXED', 'T47-P3'))
"""


def _full_refresh(dsn: str) -> dict[str, object]:
    """In a rolled-back transaction: the edge world, then one full refresh; what it left."""
    with connect(dsn) as conn:
        conn.execute(EDGE_WORLD)
        conn.execute("INSERT INTO iu_three_axis_envelope_dirty (collection_id, reason) "
                     "SELECT id, 'test-047' FROM information_unit WHERE code LIKE 'T47-%' AND kind = 'collection' "
                     "ON CONFLICT DO NOTHING")  # fmt: skip
        returned = conn.execute(f"SELECT {REFRESH}").fetchone()[0]
        envelopes = conn.execute(
            "SELECT u.code, e.axis_a_count, e.axis_b_count, e.axis_c_count FROM iu_three_axis_envelope e "
            "JOIN information_unit u ON u.id = e.collection_id ORDER BY u.code"
        ).fetchall()
        stamps = conn.execute(
            "SELECT count(*), bool_and(refreshed_at >= transaction_timestamp()) FROM iu_three_axis_envelope"
        ).fetchone()
        log = conn.execute(
            "SELECT reason, refreshed_count, cardinality(refreshed_collections), "
            "refreshed_collections = ARRAY(SELECT id FROM information_unit WHERE kind = 'collection' ORDER BY id) "
            "FROM iu_three_axis_envelope_refresh_log WHERE occurred_at >= transaction_timestamp()"
        ).fetchall()
        dirty = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_dirty").fetchone()[0]
        conn.rollback()
    return {"returned": returned, "envelopes": envelopes, "stamps": stamps, "log": log, "dirty": dirty}


def _definition(dsn: str) -> tuple[str, str | None]:
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT pg_get_functiondef(%s::regprocedure), obj_description(%s::regprocedure, 'pg_proc')",
            [REFRESH, REFRESH],
        ).fetchone()
        conn.rollback()
    return row


def test_047_refreshes_every_envelope_as_022_did_and_its_down_script_restores_046(scratch_database, psql, evidence):
    """At 046 and 047 a full refresh leaves the same envelopes, marks and log row; 047's down script restores 046."""
    with connect(scratch_database) as conn:
        migrations.apply(conn, [m for m in migrations.discover() if m.version <= "046"])
        seed.load(conn)
        conn.commit()
    at_046, definition_046 = _full_refresh(scratch_database), _definition(scratch_database)
    envelopes = dict((code, (a, b, c)) for code, a, b, c in at_046["envelopes"])
    evidence.expect(
        "edge envelopes at 046 (empty; draft, retired and NULL-axis pieces only; shared values)",
        have=[envelopes.get(c) for c in ("T47-EMPTY", "T47-INERT", "T47-MIXED", "DIEU")],
        want=[(0, 0, 0), (0, 0, 0), (1, 2, 1), (27, 23, 36)],
    )
    evidence.expect("every envelope row stamped by this refresh", have=at_046["stamps"][1], want=True)
    evidence.expect("dirty marks left at 046", have=at_046["dirty"], want=0)
    evidence.expect("log rows at 046", have=[r[0] for r in at_046["log"]], want=["manual_full_refresh"])

    with connect(scratch_database) as conn:
        applied = [m.version for m in migrations.apply(conn, upto="047")]
    evidence.expect("applied on top of 046", have=applied, want=["047"])
    evidence.expect("full refresh at 047", have=_full_refresh(scratch_database), want=at_046)

    result = psql.run(DOWN, dsn=scratch_database)
    evidence.expect("047 down: exit code", have=result.returncode, want=0, note=result.output)
    evidence.expect("refresh definition after the down script", have=_definition(scratch_database), want=definition_046)
    with connect(scratch_database) as conn:
        evidence.expect("ledger head after the down script", have=migrations.head(conn), want="046")
        conn.rollback()
        reapplied = [m.version for m in migrations.apply(conn, upto="047")]
    evidence.expect("re-applied by the runner", have=reapplied[:1], want=["047"])
    evidence.expect("full refresh after re-applying", have=_full_refresh(scratch_database), want=at_046)
