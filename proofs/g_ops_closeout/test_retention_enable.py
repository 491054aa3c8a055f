"""G-1: enable.sql deletes exactly what the dry run predicted, only rows older
than each policy's horizon, in one transaction, and leaves the gate closed."""

from __future__ import annotations

import pytest

from iu_prove.dsn import connect
from proofs.g_ops_closeout import _support as sup

ACTOR = "iu-core-retention-proof"
AUTHORITY = "G-RETENTION proof authority https://example.invalid/approval?id=1"
LIVE = {"live": "true", "authority": AUTHORITY}


def _snapshot(dsn: str):
    with connect(dsn, autocommit=True) as conn:
        pols = [p for p in sup.policies(conn) if p.enabled]
        rows = {p.table: sup.rows_by_id(conn, p) for p in pols}
        others = [t for t in sup.public_tables(conn) if t not in rows and t != "iu_core_config"]
        config = conn.execute("SELECT key, value, updated_at, updated_by FROM iu_core_config ORDER BY key").fetchall()
        return pols, rows, sup.fingerprint(conn, others), config, sup.db_now(conn)


@pytest.mark.claim("G-1")
@pytest.mark.durable
def test_enable_deletes_exactly_the_dry_run_prediction_and_closes_the_gate(fresh_database, psql, evidence):
    """enable.sql deletes exactly the dry run's prediction, only rows past each horizon, and leaves the gate closed."""
    pols, before, others_before, config_before, t_before = _snapshot(fresh_database)
    dry = psql.run("retention-enable/dry_run.sql", dsn=fresh_database)
    evidence.expect("dry_run.sql exit", have=dry.returncode, want=0, rows=[dry.output[-800:]])
    predicted = {r["table_name"]: int(r["would_delete"]) for r in sup.parse_psql_table(dry.stdout, "table_name")}

    run = psql.run("retention-enable/enable.sql", dsn=fresh_database, actor=ACTOR, **LIVE)
    evidence.expect("enable.sql exit", have=run.returncode, want=0, rows=[run.output[-800:]])
    printed = {r["table_name"]: int(r["deleted_rows"]) for r in sup.parse_psql_table(run.stdout, "table_name")}
    _, after, others_after, config_after, t_after = _snapshot(fresh_database)

    removed = {t: sorted(set(before[t]) - set(after[t])) for t in before}
    evidence.record("dry run: rows predicted per table", predicted)
    evidence.expect("enable.sql: rows it reports deleted per table", have=printed, want=predicted)
    evidence.expect("rows that left each table", have={t: len(ids) for t, ids in removed.items()}, want=predicted)
    evidence.expect(
        "rows added to a policy table",
        have={t: len(set(after[t]) - set(before[t])) for t in before},
        want={t: 0 for t in before},
    )
    young = [
        [p.table, i, str(before[p.table][i])]
        for p in pols
        for i in removed[p.table]
        if not before[p.table][i] < t_after - p.retain
    ]
    evidence.expect_no_rows("removed rows not older than their policy horizon", young)
    left = [[p.table, i, str(ts)] for p in pols for i, ts in after[p.table].items() if ts < t_before - p.retain]
    evidence.expect_no_rows("expired rows left behind", left)
    evidence.expect_no_rows(
        "other tables changed (table, rows before, rows after)", sup.fingerprint_delta(others_before, others_after)
    )
    cfg_before = {k: rest for k, *rest in config_before}
    cfg_after = {k: rest for k, *rest in config_after}
    touched = sorted(k for k in cfg_before.keys() | cfg_after.keys() if cfg_before.get(k) != cfg_after.get(k))
    evidence.expect("config rows touched", have=touched, want=[sup.RETENTION_GATE])
    value, _, updated_by = cfg_after[sup.RETENTION_GATE]
    evidence.expect(
        "retention gate after enable.sql (value, updated_by)",
        have=[value, updated_by],
        want=[False, f"{ACTOR}; authority: {AUTHORITY}"],
    )


@pytest.mark.claim("G-1")
@pytest.mark.durable
def test_enable_writes_nothing_unless_live_true_with_an_authority(fresh_database, psql, evidence):
    """enable.sql dry-runs unless live=true, refuses a live run without authority and old spellings; nothing written."""
    before = sup.fingerprint_of(fresh_database)
    outcomes = {}
    for label, variables in {
        "nothing (dry run)": {},
        "live=false": {"live": "false"},
        "live=true, no authority": {"live": "true"},
        "live=true, empty authority": {"live": "true", "authority": " "},
        "live=yes": {"live": "yes", "authority": AUTHORITY},
        "confirm=yes (old spelling)": {"confirm": "yes", "authority": AUTHORITY},
        "dry_run=false (another script's name)": {"dry_run": "false", "authority": AUTHORITY},
    }.items():
        run = psql.run("retention-enable/enable.sql", dsn=fresh_database, actor=ACTOR, **variables)
        said = "dry run" if "(dry run)" in run.stdout else ("refused" if "refused" in run.stderr else "?")
        outcomes[label] = [run.returncode, said]
    evidence.expect(
        "exit code, what it said, per variables",
        have=outcomes,
        want={
            "nothing (dry run)": [0, "dry run"],
            "live=false": [0, "dry run"],
            "live=true, no authority": [3, "refused"],
            "live=true, empty authority": [3, "refused"],
            "live=yes": [3, "refused"],
            "confirm=yes (old spelling)": [3, "refused"],
            "dry_run=false (another script's name)": [3, "refused"],
        },
    )
    evidence.expect_no_rows(
        "tables changed by the dry and refused runs", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database))
    )


@pytest.mark.claim("G-1")
@pytest.mark.durable
def test_enable_refuses_when_the_gate_is_already_open(fresh_database, psql, evidence):
    """enable.sql refuses, writing nothing, when the retention gate is already open."""
    with connect(fresh_database) as conn:
        conn.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-core-proof-setup')", [sup.RETENTION_GATE])
        conn.commit()
    before = sup.fingerprint_of(fresh_database)
    run = psql.run("retention-enable/enable.sql", dsn=fresh_database, actor=ACTOR, **LIVE)
    evidence.expect("enable.sql exit", have=run.returncode, want=3)
    evidence.expect_true("refusal names the open gate", "already open" in run.stderr, rows=[run.stderr[-400:]])
    evidence.expect_no_rows("tables changed", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database)))


@pytest.mark.claim("G-1")
@pytest.mark.durable
def test_enable_is_one_transaction_a_late_failure_deletes_nothing(fresh_database, psql, evidence):
    """enable.sql is one transaction: a failure in its last table deletes nothing and leaves the gate closed."""
    with connect(fresh_database) as conn:
        last = [p for p in sup.policies(conn) if p.enabled][-1]
        conn.execute(
            "CREATE FUNCTION iu_proof_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'proof fault: delete refused on %', TG_TABLE_NAME; END$$"
        )
        conn.execute(
            f"CREATE TRIGGER proof_refuse_delete BEFORE DELETE ON public.{last.table} "
            "FOR EACH ROW EXECUTE FUNCTION iu_proof_refuse_delete()"
        )
        conn.commit()
    evidence.record("table whose delete fails (last in cleanup order)", last.table)
    before = sup.fingerprint_of(fresh_database)
    run = psql.run("retention-enable/enable.sql", dsn=fresh_database, actor=ACTOR, **LIVE)
    evidence.expect("enable.sql exit", have=run.returncode, want=3)
    evidence.expect_true("the fault is reported", "proof fault" in run.stderr, rows=[run.stderr[-400:]])
    evidence.expect_no_rows(
        "tables changed (table, rows before, rows after)",
        sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database)),
    )
    with connect(fresh_database, autocommit=True) as conn:
        evidence.expect("retention gate", have=sup.gate_row(conn)[0], want=False)
