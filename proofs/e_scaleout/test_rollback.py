"""E-6 and E-7: rollback-by-actor addresses exactly the batch — the dry run reports it, the live run removes it.

Oracle: the actor rule is exact text equality (``proofs/_model.py``); what
belongs to an actor is read raw (its lineage rows, the instances they name and
those instances' memberships, envelope and dirty rows, outbox events, and its
audit rows) and fingerprinted per actor and per table.
Branches: look-alike actors that differ from the target only by case, by a
prefix, by a suffix (what ``LIKE actor || '%'`` would add), or where the
target's ``_`` stands for another character (what ``LIKE`` would read as a
wildcard); an actor holding ``%`` itself is refused (H-3), so ``%`` is reached
through the suffix look-alike. Scope both ways: the target's footprint is
empty afterwards, and every other actor's fingerprint in every table, and the
whole schema's, are as before the target's batch.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import fingerprint
from iu_prove.dsn import connect
from iu_prove.profiles import for_every_n, scaleout_sizes
from proofs._substrate import count, sqlstate_of
from proofs.e_scaleout import _scaleout as sc


@pytest.mark.claim("E-6")
@for_every_n
def test_the_rollback_dry_run_reports_exactly_the_batch_and_changes_nothing(rolled_back, evidence, n):
    """The rollback-by-actor dry run reports, per table, exactly the rows the batch added, and changes no table."""
    evidence.add("N", n)
    with rolled_back() as db:
        actor = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e6")
        before = sc.table_counts(db)
        sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        added = {t: c - before[t] for t, c in sc.table_counts(db).items()}
        prints = fingerprint.of_schema(db)
        report = sc.rollback_report(db, actor, dry_run=True)
        changed = fingerprint.diff(prints, fingerprint.of_schema(db))
        evidence.add("N, dry-run report", [n, report])
        evidence.expect("dry-run report per table = rows the batch added", have=report, want=added, note=f"N={n}")
        evidence.expect(
            "instances, lineage, audit, outbox rows in the report",
            have=[report.get(t) for t in ("information_unit", sc.LINEAGE, sc.AUDIT, "event_outbox")],
            want=[n] * 4,
        )
        evidence.expect_no_rows("tables the dry run changed", fingerprint.describe(changed))


@pytest.mark.claim("E-7")
@given(n=scaleout_sizes(), n_other=st.integers(1, 12))
@example(n=20, n_other=12)
@example(n=40, n_other=3)
def test_the_live_rollback_removes_exactly_the_batch_and_restores_every_table(rolled_back, evidence, n, n_other):
    """Live rollback removes exactly the batch, spares the background and a second batch, restores every table."""
    evidence.add("N", n)
    with rolled_back() as db:
        # look-alikes: "_" is a LIKE wildcard for "-", and the first actor is a prefix of the second
        actor = sc.fresh_actor(db, f"iu-core-{n}x_bulk-e7")
        other = sc.fresh_actor(db, f"iu-core-{n}x-bulk-e7-second")
        pristine = fingerprint.of_schema(db)
        sc.scaleout(db, n_other, other, bound=sc.bound_for(n_other))
        pre_batch = fingerprint.of_schema(db)
        actors_pre = sc.rows_per_actor(db)
        sc.scaleout(db, n, actor, bound=sc.bound_for(n))
        dry = sc.rollback_report(db, actor, dry_run=True)
        live = sc.rollback_report(db, actor, dry_run=False)
        evidence.expect("live rollback counts = dry-run counts", have=live, want=dry)
        evidence.expect(
            "actor's footprint after the live rollback",
            have=sc.footprint(db, actor),
            want=sc.NO_FOOTPRINT,
            note=f"N={n}",
        )
        actors_post = sc.rows_per_actor(db)
        evidence.expect("(lineage, audit) rows of every other actor", have=actors_post, want=actors_pre)
        evidence.expect(
            "background actor's (lineage, audit) rows", have=actors_post.get(sc.BACKGROUND_ACTOR), want=(12, 12)
        )
        changed = fingerprint.diff(pre_batch, fingerprint.of_schema(db))
        evidence.add("N, second batch, tables changed after the live rollback", [n, n_other, len(changed)])
        evidence.expect_no_rows("tables whose fingerprint differs from before the batch", fingerprint.describe(changed))
        sc.rollback_report(db, other, dry_run=False)
        changed = fingerprint.diff(pristine, fingerprint.of_schema(db))
        evidence.expect_no_rows(
            "tables that differ once the second batch is rolled back too", fingerprint.describe(changed)
        )


@pytest.mark.claim("E-7")
@pytest.mark.durable
def test_run_verify_and_rollback_by_hand_leave_the_database_as_it_was(fresh_database, psql, evidence):
    """run_bounded_scaleout.sql n=30, verify_batch.sql, then the rollback pair leave every table as it was."""
    with connect(fresh_database) as db:
        before = fingerprint.of_schema(db)
        db.rollback()
    steps = [
        ("run n=30", "scaleout/run_bounded_scaleout.sql", {"n": 30, "live": "true"}),
        ("verify", "scaleout/verify_batch.sql", {"actor": "iu-core-30x-bulk", "n": 30}),
        ("rollback dry run", "scaleout/rollback_batch.sql", {"actor": "iu-core-30x-bulk"}),
        ("rollback live", "scaleout/rollback_batch.sql", {"actor": "iu-core-30x-bulk", "live": "true"}),
    ]
    codes = {}
    for label, script, variables in steps:
        with connect(fresh_database) as db:
            prior = fingerprint.of_schema(db)
            db.rollback()
        res = psql.run(script, dsn=fresh_database, **variables)
        codes[label] = res.returncode
        assert res.returncode == 0, f"{label}: {res}"
        with connect(fresh_database) as db:
            after = fingerprint.of_schema(db)
            db.rollback()
        if label == "run n=30":
            evidence.record("tables the committed batch changed", sorted(fingerprint.diff(prior, after)))
        elif label in ("verify", "rollback dry run"):
            evidence.expect_no_rows(f"tables changed by {label}", fingerprint.describe(fingerprint.diff(prior, after)))
    evidence.record("exit codes", codes)
    with connect(fresh_database) as db:
        changed = fingerprint.diff(before, fingerprint.of_schema(db))
        db.rollback()
    evidence.expect_no_rows("tables that differ from before the run", fingerprint.describe(changed))


# one instance per look-alike; the target holds "_" and capitals so each look-alike differs in one way only
LOOK_TARGET = "iu-core-E7x_look"
LOOK_ALIKES = {
    "case": "iu-core-e7x_look",
    "'_' read as a wildcard": "iu-core-E7x-look",
    "suffix": "iu-core-E7x_look-2",
    "prefix": "old-iu-core-E7x_look",
    "the target's own prefix": "iu-core-E7x_loo",
}
ACTOR_PRINTS_SQL = """
WITH owned AS (SELECT actor, instance_collection_id AS cid FROM iu_collection_template_instance_lineage)
SELECT o.actor, 'information_unit', count(*), md5(string_agg(u::text, E'\\n' ORDER BY u::text))
  FROM owned o JOIN information_unit u ON u.id = o.cid GROUP BY 1
UNION ALL
SELECT o.actor, 'iu_piece_membership', count(*), md5(string_agg(m::text, E'\\n' ORDER BY m::text))
  FROM owned o JOIN iu_piece_membership m ON m.collection_id = o.cid GROUP BY 1
UNION ALL
SELECT o.actor, 'iu_three_axis_envelope', count(*), md5(string_agg(e::text, E'\\n' ORDER BY e::text))
  FROM owned o JOIN iu_three_axis_envelope e ON e.collection_id = o.cid GROUP BY 1
UNION ALL
SELECT o.actor, 'iu_three_axis_envelope_dirty', count(*), md5(string_agg(d::text, E'\\n' ORDER BY d::text))
  FROM owned o JOIN iu_three_axis_envelope_dirty d ON d.collection_id = o.cid GROUP BY 1
UNION ALL
SELECT o.actor, 'event_outbox', count(*), md5(string_agg(x::text, E'\\n' ORDER BY x::text))
  FROM owned o JOIN event_outbox x ON x.aggregate_id = o.cid GROUP BY 1
UNION ALL
SELECT a.triggered_by, 'iu_auto_instantiate_event_log', count(*), md5(string_agg(a::text, E'\\n' ORDER BY a::text))
  FROM iu_auto_instantiate_event_log a GROUP BY 1
UNION ALL
SELECT l.actor, 'iu_collection_template_instance_lineage', count(*),
       md5(string_agg(l::text, E'\\n' ORDER BY l::text))
  FROM iu_collection_template_instance_lineage l GROUP BY 1
"""


def actor_prints(db) -> dict[tuple[str, str], tuple[int, str]]:
    """(actor, table) -> (rows, md5) of the rows that belong to each actor, read raw."""
    return {(a, t): (n, md5) for a, t, n, md5 in db.execute(ACTOR_PRINTS_SQL).fetchall()}


@pytest.mark.claim("E-7")
def test_the_live_rollback_of_one_actor_leaves_every_look_alike_actor_untouched(db, evidence):
    """Live rollback of one actor spares look-alikes (case, prefix, suffix, '_'): their rows in every table kept."""
    sc.set_gate(db, sc.GATE, True)
    for actor in LOOK_ALIKES.values():
        db.execute("SELECT * FROM dot_iu_auto_instantiate_from_event('WF-REVIEW', %s, false, 1)", [actor])
    before_target = actor_prints(db)
    schema_before = fingerprint.of_schema(db)
    for template in ("WF-INCIDENT", "FILE-CHANGELOG"):
        db.execute("SELECT * FROM dot_iu_auto_instantiate_from_event(%s, %s, false)", [template, LOOK_TARGET])
    evidence.expect(
        "look-alike actors and the background actor hold (lineage, audit) rows",
        have={a: sc.rows_per_actor(db).get(a) for a in [*LOOK_ALIKES.values(), sc.BACKGROUND_ACTOR]},
        want={a: (1, 1) for a in LOOK_ALIKES.values()} | {sc.BACKGROUND_ACTOR: (12, 12)},
    )
    report = sc.rollback_report(db, LOOK_TARGET, dry_run=False)
    evidence.expect(
        "live rollback report (instances, lineage, audit, outbox)",
        have=[report.get(t) for t in ("information_unit", sc.LINEAGE, sc.AUDIT, "event_outbox")],
        want=[2, 2, 2, 2],
    )
    evidence.expect("target's footprint after the rollback", have=sc.footprint(db, LOOK_TARGET), want=sc.NO_FOOTPRINT)
    after = actor_prints(db)
    changed = sorted(
        f"{name} ({actor}): {table} {before_target.get((actor, table))} -> {after.get((actor, table))}"
        for name, actor in [*LOOK_ALIKES.items(), ("background", sc.BACKGROUND_ACTOR)]
        for table in sc.ROLLBACK_TABLES
        if before_target.get((actor, table)) != after.get((actor, table))
    )
    evidence.expect_no_rows("look-alike or background actor rows changed, per table", changed)
    evidence.expect_no_rows(
        "tables whose fingerprint differs from before the target's batch",
        fingerprint.describe(fingerprint.diff(schema_before, fingerprint.of_schema(db))),
    )


REPORT_ROWS_SQL = "SELECT table_name, affected_rows FROM dot_iu_auto_instantiate_rollback_by_actor(%s, %s)"


@pytest.mark.claim("E-6")
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry", "live"])
def test_the_rollback_report_lists_the_seven_tables_in_order_each_once(db, evidence, dry_run):
    """The rollback report has one row per table, in the documented table order, each count the batch's own rows."""
    actor = sc.fresh_actor(db, "iu-core-2x-bulk-e6-order")
    before = sc.table_counts(db)
    sc.set_gate(db, sc.GATE, True)
    for template in ("WF-INCIDENT", "FILE-CHANGELOG"):
        db.execute("SELECT * FROM dot_iu_auto_instantiate_from_event(%s, %s, false)", [template, actor])
    added = {t: c - before[t] for t, c in sc.table_counts(db).items()}
    rows = [(t, int(n)) for t, n in db.execute(REPORT_ROWS_SQL, [actor, dry_run]).fetchall()]
    evidence.expect("report rows (table, count), in order", have=rows, want=[(t, added[t]) for t in sc.ROLLBACK_TABLES])


@pytest.mark.claim("E-7")
def test_a_lineage_row_naming_a_piece_never_makes_the_rollback_delete_the_piece(db, evidence):
    """A lineage row of the actor naming a piece, not a collection: the rollback removes the row, never the piece."""
    actor = sc.fresh_actor(db, "iu-core-1x-bulk-e7-piece")
    piece = db.execute(
        "SELECT u.id, u.code FROM information_unit u WHERE u.kind = 'piece'"
        " AND NOT EXISTS (SELECT 1 FROM iu_collection_template_instance_lineage l"
        " WHERE l.instance_collection_id = u.id)"
        " ORDER BY u.code LIMIT 1"
    ).fetchone()
    db.execute(
        "INSERT INTO iu_collection_template_instance_lineage"
        " (instance_collection_id, template_code, template_version, template_digest, instance_digest, actor)"
        " VALUES (%s, 'E7-FORGED', 1, 'x', 'x', %s)",
        [piece[0], actor],
    )
    units = sc.table_counts(db, ["information_unit"])["information_unit"]
    state, message = sqlstate_of(db, REPORT_ROWS_SQL, [actor, False])
    evidence.expect("live rollback error", have=state, want=None, rows=[message])
    evidence.expect(
        "the piece is still there", have=count(db, "information_unit", "id = %s", [piece[0]]), want=1, rows=[piece]
    )
    evidence.expect(
        "information_unit rows", have=sc.table_counts(db, ["information_unit"])["information_unit"], want=units
    )
    evidence.expect("lineage rows of the actor", have=count(db, sc.LINEAGE, "actor = %s", [actor]), want=0)
