"""E-4 and E-5: after a batch, 0 lineage orphans and 0 digest drift; the vector ledger is unchanged."""

from __future__ import annotations

import re

import pytest

from iu_prove import fingerprint
from iu_prove import psql as psql_mod
from iu_prove.dsn import connect
from iu_prove.profiles import for_every_n
from proofs.e_scaleout import _scaleout as sc

# every instance's pieces, by position, against its template's piece list; outer joins, so
# an instance without memberships (or a lineage row without its instance) is a mismatch too
REUSE_SQL = """
SELECT coalesce(u.code, 'missing instance ' || l.instance_collection_id::text), t.piece_codes,
       coalesce(array_agg(p.code ORDER BY m.position) FILTER (WHERE m.collection_id IS NOT NULL), '{}') AS pieces
  FROM iu_collection_template_instance_lineage l
  LEFT JOIN information_unit u ON u.id = l.instance_collection_id
  LEFT JOIN iu_collection_template t ON t.id = l.template_id
  LEFT JOIN iu_piece_membership m ON m.collection_id = u.id
  LEFT JOIN information_unit p ON p.id = m.piece_id
 WHERE l.actor = %s
 GROUP BY 1, t.piece_codes
HAVING coalesce(array_agg(p.code ORDER BY m.position) FILTER (WHERE m.collection_id IS NOT NULL), '{}')
       IS DISTINCT FROM t.piece_codes
    OR bool_or(p.kind IS DISTINCT FROM 'piece') FILTER (WHERE m.collection_id IS NOT NULL)
    OR bool_or(u.id IS NULL)
"""
PIECES = "t.kind = 'piece'"  # the pieces' fingerprint: every piece row, old ones counted, new ones hashed


@pytest.mark.claim("E-4")
@for_every_n
def test_a_batch_leaves_no_lineage_orphan_and_no_digest_drift(rolled_back, evidence, n):
    """After a batch of N the orphan and drift views are as before (empty on the fixtures), none of the batch."""
    evidence.add("N", n)
    with rolled_back() as db:
        orphans_before, drift_before = sc.orphans(db), sc.drift(db)
        actor = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e4")
        sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        orphans_after, drift_after = sc.orphans(db), sc.drift(db)
        evidence.add("N, orphan rows, drift rows", [n, len(orphans_after), len(drift_after)])
        evidence.expect_no_rows(
            "lineage orphans the batch added", [r for r in orphans_after if r not in orphans_before]
        )
        evidence.expect_no_rows("digest drift the batch added", [r for r in drift_after if r not in drift_before])
        evidence.expect(
            "orphan rows (before, after)",
            have=(len(orphans_before), len(orphans_after)),
            want=(len(orphans_before), len(orphans_before)),
        )
        evidence.expect(
            "drift rows (before, after)",
            have=(len(drift_before), len(drift_after)),
            want=(len(drift_before), len(drift_before)),
        )


@pytest.mark.claim("E-4")
@pytest.mark.durable
def test_verify_batch_passes_a_clean_batch_and_fails_naming_drift(fresh_database, psql, evidence):
    """verify_batch.sql exits 0 on a committed batch and non-zero, naming digest_drift, once an instance drifts."""
    ran = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=24, live="true")
    assert ran.returncode == 0, str(ran)
    clean = psql.run("scaleout/verify_batch.sql", dsn=fresh_database, actor="iu-core-24x-bulk", n=24)
    evidence.record("verify exit code on the clean batch", clean.returncode)
    evidence.expect("verify passes the clean batch", have=clean.returncode, want=0, note=clean.output[-600:])
    with connect(fresh_database) as db:
        db.execute(
            "DELETE FROM iu_piece_membership WHERE position = 1 AND collection_id = "
            "(SELECT instance_collection_id FROM iu_collection_template_instance_lineage "
            " WHERE actor = 'iu-core-24x-bulk' ORDER BY created_at LIMIT 1)"
        )
        db.commit()
    broken = psql.run("scaleout/verify_batch.sql", dsn=fresh_database, actor="iu-core-24x-bulk", n=24)
    evidence.record("verify exit code after one instance drifted", broken.returncode)
    evidence.expect(
        "verify fails naming digest_drift",
        have=(broken.returncode != 0, "digest_drift" in broken.stderr),
        want=(True, True),
        note=broken.stderr[-300:],
    )


@pytest.mark.claim("E-5")
@for_every_n
def test_a_batch_leaves_the_vector_ledger_unchanged_and_reuses_template_pieces(rolled_back, evidence, n):
    """A batch of N leaves the vector ledger and the pieces unchanged: its instances reuse their templates' pieces."""
    evidence.add("N", n)
    with rolled_back() as db:
        ledger_before = fingerprint.of_table(db, "iu_vector_point")
        pieces_before = fingerprint.of_table(db, "information_unit", where=PIECES)
        actor = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e5")
        sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        ledger_after = fingerprint.of_table(db, "iu_vector_point")
        evidence.add("N, vector points before, after", [n, ledger_before.rows, ledger_after.rows])
        evidence.expect("vector ledger fingerprint (rows, md5)", have=ledger_after, want=ledger_before)
        evidence.expect(
            "pieces fingerprint (rows, md5)",
            have=fingerprint.of_table(db, "information_unit", where=PIECES),
            want=pieces_before,
        )
        evidence.expect(
            "vector points of the batch's instances",
            have=sc.scalar(
                db,
                f"SELECT count(*) FROM iu_vector_point v JOIN {sc.LINEAGE} l "
                "ON l.instance_collection_id = v.unit_id WHERE l.actor = %s",
                [actor],
            ),
            want=0,
        )
        evidence.expect_no_rows(
            "instances whose pieces are not their template's, in order", db.execute(REUSE_SQL, [actor]).fetchall()
        )
        with db.transaction(force_rollback=True):  # the check sees an instance stripped of every membership
            db.execute(
                f"DELETE FROM iu_piece_membership WHERE collection_id = "
                f"(SELECT instance_collection_id FROM {sc.LINEAGE} WHERE actor = %s LIMIT 1)",
                [actor],
            )
            evidence.expect(
                "the same check on an instance without memberships (must see it)",
                have=len(db.execute(REUSE_SQL, [actor]).fetchall()),
                want=1,
            )


VERIFY_ACTOR = "iu-core-6x-bulk-e4-verify"
ONE_INSTANCE = (
    f"(SELECT instance_collection_id FROM {sc.LINEAGE} WHERE actor = '{VERIFY_ACTOR}' "
    "ORDER BY instance_collection_id LIMIT 1)"
)
VERIFY_BREAKAGES = {  # check it must name → the breakage, set up after the batch in the same session
    "audit_rows": ("SELECT 1", {"n": 7}),
    "digest_matches_template": (
        f"UPDATE iu_auto_instantiate_event_log SET digest_matches_template = false "
        f"WHERE instance_collection_id = {ONE_INSTANCE}",
        {},
    ),
    "lineage": (f"DELETE FROM {sc.LINEAGE} WHERE instance_collection_id = {ONE_INSTANCE}", {}),
    "outbox_events": (f"DELETE FROM event_outbox WHERE aggregate_id = {ONE_INSTANCE}", {}),
    "digest_drift": (f"DELETE FROM iu_piece_membership WHERE position = 1 AND collection_id = {ONE_INSTANCE}", {}),
    "vector_ledger": (
        "INSERT INTO iu_vector_point (unit_id, qdrant_collection, point_id) "
        f"VALUES ({ONE_INSTANCE}, 'iu_proof_e4', 'verify-control')",
        {},
    ),
    "gate_closed": ("SELECT fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, 'iu-prove')", {}),
}


@pytest.mark.claim("E-4")
@pytest.mark.durable  # a batch in a psql session of its own (it takes the gate rows): a database of its own
@pytest.mark.parametrize("check", [None, *VERIFY_BREAKAGES], ids=["clean", *VERIFY_BREAKAGES])
def test_verify_batch_fails_naming_each_broken_check_alone(fresh_database, evidence, check):
    """verify_batch.sql on a batch of 6 in one rolled-back session: passes clean, names each broken check alone."""
    breakage, variables = VERIFY_BREAKAGES[check] if check else ("SELECT 1", {})
    setup = f"SELECT count(*) FROM fn_iu_bounded_scaleout(6, '{VERIFY_ACTOR}'); {breakage}"
    result = psql_mod.run_in_rolled_back_session(
        fresh_database, setup, "scaleout/verify_batch.sql", actor=VERIFY_ACTOR, **({"n": 6} | variables)
    )
    error = next((line for line in result.stderr.splitlines() if "verify_batch failed" in line), "")
    named = re.search(r"verify_batch failed for actor \S+: (.*)$", error)
    failed = named.group(1).split(", ") if named else []
    evidence.record("checks named failed", failed)
    if check is None:
        evidence.expect("exit on the clean batch", have=result.returncode, want=0, rows=[result.stderr[-400:]])
        evidence.expect("checks failed", have=failed, want=[])
    else:
        evidence.expect_where("exit", result.returncode, lambda rc: rc != 0, "non-zero")
        evidence.expect_true(f"{check} is named failed", check in failed, rows=[error or result.stderr[-400:]])


# One instance of a batch broken each way alone (and two ways at once); the orphan view must name it
# with exactly the reasons its rows give, and no other instance of the batch.
BREAKS = {
    "healthy": [],
    "collection turned into a piece": ["UPDATE information_unit SET kind = 'piece' WHERE id = %(id)s"],
    "memberships removed": ["DELETE FROM iu_piece_membership WHERE collection_id = %(id)s"],
    "template unlinked": [
        "UPDATE iu_collection_template_instance_lineage SET template_id = NULL WHERE instance_collection_id = %(id)s"
    ],
    "turned into a piece and memberships removed": [
        "DELETE FROM iu_piece_membership WHERE collection_id = %(id)s",
        "UPDATE information_unit SET kind = 'piece' WHERE id = %(id)s",
    ],
}
WANT_REASONS = {
    "healthy": [],
    "collection turned into a piece": ["instance_collection_missing"],
    "memberships removed": ["instance_has_no_memberships"],
    "template unlinked": ["template_missing"],
    "turned into a piece and memberships removed": ["instance_collection_missing"],
}
BATCH_ORPHAN_ORACLE = """
SELECT l.id, l.instance_collection_id,
       EXISTS (SELECT 1 FROM information_unit u WHERE u.id = l.instance_collection_id AND u.kind = 'collection'),
       EXISTS (SELECT 1 FROM iu_piece_membership m WHERE m.collection_id = l.instance_collection_id),
       EXISTS (SELECT 1 FROM iu_collection_template t WHERE t.id = l.template_id)
  FROM iu_collection_template_instance_lineage l
 WHERE l.actor = %s
"""


def _expected_orphans(db, actor: str) -> list[tuple[str, str]]:
    """(lineage id, reason) computed in Python from the batch's raw rows, one existence test each."""
    out = []
    for lineage_id, _collection, is_collection, has_members, has_template in db.execute(
        BATCH_ORPHAN_ORACLE, [actor]
    ).fetchall():
        if not is_collection:
            out.append((str(lineage_id), "instance_collection_missing"))
        elif not has_members:
            out.append((str(lineage_id), "instance_has_no_memberships"))
        if not has_template:
            out.append((str(lineage_id), "template_missing"))
    return sorted(out)


@pytest.mark.claim("E-4")
@pytest.mark.parametrize("case", list(BREAKS))
def test_the_orphan_view_names_each_broken_instance_with_its_reasons_and_no_other(rolled_back, evidence, case):
    """The orphan view names a batch instance broken each way alone with its reason, and no healthy instance."""
    with rolled_back() as db:
        actor = sc.fresh_actor(db, "iu-core-e4-orphans")
        rows = sc.scaleout(db, 4, actor)
        broken = rows[1]["instance_id"]
        for statement in BREAKS[case]:
            db.execute(statement, {"id": broken})
        lineage_of_broken = str(
            db.execute(
                "SELECT id FROM iu_collection_template_instance_lineage WHERE instance_collection_id = %s", [broken]
            ).fetchone()[0]
        )
        want = _expected_orphans(db, actor)
        have = sorted(
            (str(r[0]), r[1])
            for r in db.execute(
                "SELECT lineage_id, reason FROM v_iu_lineage_orphans WHERE actor = %s", [actor]
            ).fetchall()
        )
    evidence.expect(
        "the designed break, as the raw rows give it (lineage, reason)",
        have=want,
        want=[(lineage_of_broken, r) for r in WANT_REASONS[case]],
    )
    evidence.expect("orphan rows of the batch (lineage, reason)", have=have, want=want)
