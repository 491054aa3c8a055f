"""E-6 and E-7: rollback-by-actor addresses exactly the batch — the dry run reports it, the live run removes it."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from iu_prove import fingerprint
from iu_prove.dsn import connect
from iu_prove.profiles import for_every_n, scaleout_sizes
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
