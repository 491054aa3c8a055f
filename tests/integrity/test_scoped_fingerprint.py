"""Large tables are fingerprinted by what was written since a horizon, not by
every row: still exact — one row changed far from what a proof touches fails it."""

from __future__ import annotations

import pytest

from iu_prove import fingerprint, isolation, nested, residue
from iu_prove.dsn import connect

pytestmark = pytest.mark.slow

BULK = fingerprint.LARGE_ROWS + 10_000
FAR = f"FAR-P{BULK}"  # the last bulk piece: no proof's scope comes near it
FILL = """
INSERT INTO information_unit (code, kind, axis_a, axis_b, axis_c, body, created_by)
SELECT 'FAR-P' || g, 'piece', 'a' || (g %% 97), 'b' || (g %% 89), 'c' || (g %% 83), 'body ' || g, 'iu-core-far-bulk'
  FROM generate_series(1, %s) g
"""
TOUCH_FAR = f"""
CREATE FUNCTION fn_test_touch_far_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE information_unit SET body = body || '.' WHERE code = '{FAR}';
  RETURN NULL;
END
$fn$;
CREATE TRIGGER trg_test_touch_far_row AFTER DELETE ON iu_collection_template_instance_lineage
  FOR EACH STATEMENT EXECUTE FUNCTION fn_test_touch_far_row();
"""


@pytest.fixture
def bigish(substrate_clone: str) -> str:
    """The substrate clone grown by bulk pieces past the large-table threshold."""
    with connect(substrate_clone) as conn:
        conn.execute(FILL, [BULK])
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE information_unit")
    return substrate_clone


def _changed_in_one_transaction(dsn: str, statements: list[str]) -> list[str]:
    """Tables whose fingerprint changed across the statements; the same whether the transaction is
    a proof's (large tables derived from change capture, no scan) or not (scanned once first)."""
    seen = []
    for proof_transaction in (False, True):
        with connect(dsn) as conn:
            if proof_transaction:
                conn.execute("SELECT set_config(%s, 'scoped-fingerprint-test', true)", [isolation.MARKER])
            before = fingerprint.of_schema(conn)
            for statement in statements:
                conn.execute(statement)
            seen.append(sorted(fingerprint.diff(before, fingerprint.of_schema(conn))))
            conn.rollback()
    assert seen[0] == seen[1], f"scanned base {seen[0]} vs a proof transaction's {seen[1]}"
    return seen[0]


@pytest.mark.claim("H-1")
def test_a_large_table_is_compared_by_rows_written_and_misses_no_change(bigish, evidence):
    """A large table's fingerprint sees one far row updated, deleted or inserted, and nothing when nothing stayed."""
    with connect(bigish) as conn:
        prints = fingerprint.of_schema(conn)
        conn.rollback()
    evidence.expect(
        "information_unit fingerprinted against a horizon",
        have=prints["information_unit"].horizon is not None,
        want=True,
    )
    evidence.expect(
        "small tables fingerprinted whole",
        have=[t for t, p in prints.items() if p.horizon is not None],
        want=["information_unit"],
    )
    cases = {
        "update of one far row": [f"UPDATE information_unit SET body = body || '.' WHERE code = '{FAR}'"],
        "delete of one far row": [f"DELETE FROM information_unit WHERE code = '{FAR}'"],
        "insert of one row": [
            "INSERT INTO information_unit (code, kind, created_by) VALUES ('FAR-NEW', 'piece', 'iu-core-far-bulk')"
        ],
        "delete of one far row, insert of a look-alike": [
            f"DELETE FROM information_unit WHERE code = '{FAR}'",
            "INSERT INTO information_unit (code, kind, created_by) VALUES ('FAR-NEW', 'piece', 'iu-core-far-bulk')",
        ],
    }
    have = {label: _changed_in_one_transaction(bigish, sql) for label, sql in cases.items()}
    evidence.expect("tables seen changed", have=have, want={label: ["information_unit"] for label in cases})
    undone = _changed_in_one_transaction(
        bigish,
        [
            "INSERT INTO information_unit (code, kind, created_by) VALUES ('FAR-NEW', 'piece', 'iu-core-far-bulk')",
            "DELETE FROM information_unit WHERE code = 'FAR-NEW'",
        ],
    )
    evidence.expect("tables seen changed after an insert undone by a delete", have=undone, want=[])

    pieces = "t.kind = 'piece'"
    filtered = {
        "update of one far piece": f"UPDATE information_unit SET body = body || '.' WHERE code = '{FAR}'",
        "one far piece turned into a collection": (
            f"UPDATE information_unit SET kind = 'collection' WHERE code = '{FAR}'"
        ),
        "delete of one far piece": f"DELETE FROM information_unit WHERE code = '{FAR}'",
        "insert of a collection (outside the filter)": (
            "INSERT INTO information_unit (code, kind, created_by) VALUES ('FAR-C', 'collection', 'iu-core-far-bulk')"
        ),
    }
    seen = {}
    for proof_transaction in (False, True):  # scanned, and derived from change capture
        with connect(bigish) as conn:
            for label, statement in filtered.items():
                if proof_transaction:
                    conn.execute("SELECT set_config(%s, 'scoped-fingerprint-test', true)", [isolation.MARKER])
                before = fingerprint.of_table(conn, "information_unit", where=pieces)
                conn.execute(statement)
                seen[(label, proof_transaction)] = (
                    fingerprint.of_table(conn, "information_unit", where=pieces) != before
                )
                conn.rollback()
    evidence.expect(
        "the pieces' fingerprint (a filtered large table) sees a change (change, in a proof's transaction)",
        have=seen,
        want={
            (label, tx): not label.startswith("insert of a collection") for label in filtered for tx in (False, True)
        },
    )

    before = residue.snapshot(bigish)
    with connect(bigish) as conn:
        conn.execute(f"UPDATE information_unit SET body = body || '.' WHERE code = '{FAR}'")
    after = residue.snapshot(bigish)
    lines = residue.differences(before, after)
    evidence.record("residue check cost (s)", residue.cost_s(before, after))
    evidence.expect(
        "residue lines naming information_unit", have=[x.split(":")[0] for x in lines], want=["information_unit"]
    )


@pytest.mark.claim("H-1")
def test_the_live_rollback_proof_fails_when_one_far_row_changes(bigish, tmp_path, evidence):
    """E-7 on a large database holds as is, and fails naming the table once the rollback also touches one far row."""
    args = ["proofs/e_scaleout/test_rollback.py", "-k", "live_rollback_removes", "-p", "no:xdist", "-q"]
    control = nested.run([*args, f"--iu-dsn={bigish}"], report_dir=tmp_path / "control")
    evidence.expect(
        "E-7 on the large database: exit code", have=control.returncode, want=0, note=control.stdout[-3000:]
    )
    with connect(bigish) as conn:
        conn.execute(TOUCH_FAR)
        conn.commit()
    broken = nested.run([*args, f"--iu-dsn={bigish}"], report_dir=tmp_path / "broken")
    evidence.expect(
        "E-7 with one far row touched: exit code", have=broken.returncode, want=1, note=broken.stdout[-3000:]
    )
    evidence.expect_true(
        "the failure names information_unit",
        "information_unit:" in broken.stdout and "tables whose fingerprint differs" in broken.stdout,
        note=broken.stdout[-3000:],
    )
