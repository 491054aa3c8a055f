"""G-2: the retention cleanup's dry run changes nothing, and a live cleanup
with the gate closed is refused."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from iu_prove.dsn import connect
from proofs.g_ops_closeout import _support as sup

XACT_WRITES = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_del
  FROM pg_stat_xact_user_tables
 WHERE schemaname = 'public'
 ORDER BY relname
"""


def _writes(conn: psycopg.Connection) -> dict[str, tuple[int, int, int]]:
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(XACT_WRITES).fetchall()}


def _expired_counts(conn: psycopg.Connection, at) -> dict[str, int]:
    counts = {}
    for p in sup.policies(conn):
        if not p.enabled:
            continue
        query = sql.SQL("SELECT count(*) FROM {} WHERE {} < %s").format(
            sql.Identifier("public", p.table), sql.Identifier(p.column)
        )
        counts[p.table] = conn.execute(query, [at - p.retain]).fetchone()[0]
    return counts


@pytest.mark.claim("G-2")
def test_the_cleanup_dry_run_changes_nothing_and_counts_the_expired_rows(db, evidence):
    """The retention cleanup's dry run changes nothing and counts exactly the rows past each horizon."""
    at = sup.db_now(db)
    tables = [p.table for p in sup.policies(db)] + ["iu_core_config"]
    writes_before, fp_before = _writes(db), sup.fingerprint(db, tables)
    rows = db.execute(
        "SELECT table_name, expired_rows, deleted_rows, dry_run FROM fn_iu_core_retention_cleanup(true, %s)", [at]
    ).fetchall()
    writes_after, fp_after = _writes(db), sup.fingerprint(db, tables)
    changed = sorted(
        t for t in writes_after.keys() | writes_before.keys() if writes_after.get(t) != writes_before.get(t)
    )
    evidence.expect_no_rows(
        "tables the dry run wrote to (pg_stat_xact_user_tables delta)",
        [[t, writes_before.get(t), writes_after.get(t)] for t in changed],
    )
    evidence.expect_no_rows("policy tables or config whose rows changed", sup.fingerprint_delta(fp_before, fp_after))
    evidence.expect("dry run: expired rows per table", have={t: n for t, n, _, _ in rows}, want=_expired_counts(db, at))
    evidence.expect("dry run: rows deleted", have=sum(d for _, _, d, _ in rows), want=0)
    evidence.expect("dry run flag on every row", have=sorted({f for *_, f in rows}), want=[True])


@pytest.mark.claim("G-2")
def test_a_live_cleanup_with_the_gate_closed_is_refused(db, evidence):
    """A live retention cleanup with iu_core.retention_enabled false is refused (IU002) and deletes nothing."""
    evidence.expect("retention gate at rest", have=sup.gate_row(db)[0], want=False)
    tables = [p.table for p in sup.policies(db)]
    before = sup.fingerprint(db, tables)
    sqlstate = None
    try:
        with db.transaction():
            db.execute("SELECT * FROM fn_iu_core_retention_cleanup(false)")
    except psycopg.Error as exc:
        sqlstate = exc.sqlstate
    evidence.expect("live cleanup with the gate closed: SQLSTATE", have=sqlstate, want="IU002")
    evidence.expect_no_rows("policy tables changed", sup.fingerprint_delta(before, sup.fingerprint(db, tables)))


@pytest.mark.claim("G-2")
@pytest.mark.readonly
def test_the_dry_run_script_changes_nothing(psql, proof_dsn, evidence):
    """sql/ops/retention-enable/dry_run.sql prints the prediction and changes nothing."""
    with connect(proof_dsn, autocommit=True) as conn:
        tables = [p.table for p in sup.policies(conn)] + ["iu_core_config"]
        counts_before = sup.row_counts(conn)
        before = sup.fingerprint(conn, tables)
    run = psql.run("retention-enable/dry_run.sql")
    evidence.expect("dry_run.sql exit", have=run.returncode, want=0, rows=[run.output[-800:]])
    printed = sup.parse_psql_table(run.stdout, "table_name")
    evidence.expect("policies printed", have=sorted(r["table_name"] for r in printed), want=sorted(tables[:-1]))
    evidence.expect_true("summary line printed", "nothing was changed" in run.stdout, rows=[run.stdout[-300:]])
    with connect(proof_dsn, autocommit=True) as conn:
        after = sup.fingerprint(conn, tables)
        counts_after = sup.row_counts(conn)
        expired = _expired_counts(conn, sup.db_now(conn))  # disabled policies expire nothing
    evidence.expect(
        "printed per table: would_delete, total_rows (counted apart)",
        have={r["table_name"]: (r.get("would_delete"), r.get("total_rows")) for r in printed},
        want={t: (str(expired.get(t, 0)), str(counts_after[t])) for t in tables[:-1]},
    )
    evidence.expect_no_rows("policy tables or config changed", sup.fingerprint_delta(before, after))
    evidence.expect("row counts of every table", have=counts_after, want=counts_before)


PROBE_TABLE = "Retention Probe Log"  # a policy table whose name needs quotes


@pytest.mark.claim("G-2")
@pytest.mark.durable
def test_the_dry_run_script_counts_a_disabled_policy_as_zero_and_a_quoted_table_exactly(fresh_database, psql, evidence):
    """dry_run.sql prints every policy, a disabled one with 0 to delete, a quoted table's rows exactly; sums enabled."""
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "UPDATE iu_core_retention_policy SET enabled = false WHERE table_name = 'event_outbox_delivery_log'"
        )
        probe = sql.Identifier(PROBE_TABLE)
        conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, occurred_at timestamptz NOT NULL)").format(probe))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT g, now() - g * interval '1 day' + interval '1 hour' FROM generate_series(1, 3) g"
            ).format(probe)
        )
        conn.execute(
            "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, registered_in) "
            "VALUES (%s, 'occurred_at', '1 day', 'proof')",
            [PROBE_TABLE],
        )
        tables = [p.table for p in sup.policies(conn)]
        enabled = [p.table for p in sup.policies(conn) if p.enabled]
        counts = sup.row_counts(conn)
        expired = _expired_counts(conn, sup.db_now(conn))
    run = psql.run("retention-enable/dry_run.sql", dsn=fresh_database)
    printed = sup.parse_psql_table(run.stdout, "table_name")
    evidence.expect("dry_run.sql exit", have=run.returncode, want=0, rows=[run.output[-800:]])
    evidence.expect("the quoted table's expired rows (counted apart)", have=expired.get(PROBE_TABLE), want=2)
    evidence.expect(
        "printed per table: would_delete, total_rows (counted apart; a disabled policy deletes 0)",
        have={r["table_name"]: (r.get("would_delete"), r.get("total_rows")) for r in printed},
        want={t: (str(expired.get(t, 0)), str(counts[t])) for t in tables},
    )
    summary = (
        f"retention dry run: {sum(expired.values())} row(s) in {len(enabled)} enabled table(s) would be deleted; "
        "gate iu_core.retention_enabled is closed; nothing was changed"
    )
    evidence.expect_true("the summary line", summary in run.stdout, rows=[summary, run.stdout[-400:]])
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("UPDATE iu_core_retention_policy SET enabled = false")
    none = psql.run("retention-enable/dry_run.sql", dsn=fresh_database)
    nothing = (
        "retention dry run: 0 row(s) in 0 enabled table(s) would be deleted; "
        "gate iu_core.retention_enabled is closed; nothing was changed"
    )
    evidence.expect_true("every policy disabled: the summary line", nothing in none.stdout, rows=[none.stdout[-400:]])
