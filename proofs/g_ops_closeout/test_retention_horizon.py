"""G-1: a retention row is expired exactly when it is older than its policy's
horizon (``p_now - retain``); the cleanup deletes exactly those and nothing else.

Oracle: Python — every row's timestamp read raw, compared in Python with
``p_now - timedelta(retain)``; never the cleanup's own count.
Boundaries: for each policy, a row one microsecond before its horizon
(expired), one exactly at it (kept: not older) and one a microsecond after
(kept); ``p_now`` far in the future (every fixture row expired) and far in the
past (none), not only near ``now()``; no horizon at all without a finite
``p_now`` (infinity, -infinity and NULL refused, each alone).
Conditions of eligibility, each alone: the policy is enabled (a disabled
policy's table keeps every row), the row is older than the horizon, the
timestamp column is the policy's (another timestamp column is not read).
Scope both ways: the rows deleted are exactly the expired ids; every other
row of every policy table is unchanged (fingerprint by id).
"""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg import sql

from proofs._substrate import sqlstate_of
from proofs.g_ops_closeout import _support as sup

UTC = dt.UTC
FUTURE = dt.datetime(2061, 6, 15, 12, 0, 0, tzinfo=UTC)
PAST = dt.datetime(2001, 1, 1, 0, 0, 0, tzinfo=UTC)
TICK = dt.timedelta(microseconds=1)
EDGES = {"one tick before the horizon": -TICK, "exactly at the horizon": dt.timedelta(0), "one tick after": TICK}


def _policies(db) -> list[tuple[str, str, dt.timedelta, bool]]:
    return db.execute(
        "SELECT table_name, timestamp_column, retain, enabled FROM iu_core_retention_policy ORDER BY table_name"
    ).fetchall()


def _stamps(db, table: str, column: str) -> dict[str, dt.datetime]:
    query = sql.SQL("SELECT id::text, {} FROM {}").format(sql.Identifier(column), sql.Identifier("public", table))
    return dict(db.execute(query).fetchall())


def _plant_edges(db, at: dt.datetime) -> dict[str, dict[str, str]]:
    """Three rows per policy table around its horizon at ``at``: {table: {edge: id}}."""
    planted: dict[str, dict[str, str]] = {}
    for table, column, retain, _enabled in _policies(db):
        horizon = at - retain
        planted[table] = {}
        for edge, shift in EDGES.items():
            row_id = db.execute(
                sql.SQL(
                    "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, to_jsonb(x) || jsonb_build_object("
                    "'id', gen_random_uuid(), {c}, %s::timestamptz))).* FROM {t} x LIMIT 1 RETURNING id::text"
                ).format(t=sql.Identifier("public", table), c=sql.Literal(column)),
                [horizon + shift],
            ).fetchone()[0]
            planted[table][edge] = row_id
    return planted


def _expected(db, at: dt.datetime) -> dict[str, set[str]]:
    """The Python model: ids whose timestamp is strictly older than at - retain, for enabled policies."""
    return {
        table: {i for i, ts in _stamps(db, table, column).items() if enabled and ts < at - retain}
        for table, column, retain, enabled in _policies(db)
    }


@pytest.mark.claim("G-1")
def test_a_row_is_expired_only_when_older_than_its_horizon_and_the_cleanup_deletes_exactly_those(db, evidence):
    """At p_now: the row a tick before each horizon is deleted, the rows at and after it are kept, all else intact."""
    db.execute("SET LOCAL TimeZone = 'UTC'")
    at = FUTURE
    planted = _plant_edges(db, at)
    want = _expected(db, at)
    edges_want = {t: {e: (i in want[t]) for e, i in ids.items()} for t, ids in planted.items()}
    evidence.expect(
        "the model's verdict on the planted rows (expired?)",
        have=edges_want,
        want={t: {e: e == "one tick before the horizon" for e in EDGES} for t in planted},
    )
    dry = {
        r[0]: (r[1], r[2])
        for r in db.execute(
            "SELECT table_name, horizon, expired_rows FROM fn_iu_core_retention_cleanup(true, %s)", [at]
        ).fetchall()
    }
    evidence.expect(
        "dry run: horizon and expired rows per table",
        have={t: [h, n] for t, (h, n) in dry.items()},
        want={t: [at - retain, len(want[t])] for t, _c, retain, enabled in _policies(db) if enabled},
    )
    before = {t: _stamps(db, t, c) for t, c, _r, _e in _policies(db)}
    db.execute("SELECT fn_iu_core_config_set(%s, 'true'::jsonb, 'iu-prove')", [sup.RETENTION_GATE])
    live = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT table_name, deleted_rows FROM fn_iu_core_retention_cleanup(false, %s)", [at]
        ).fetchall()
    }
    after = {t: _stamps(db, t, c) for t, c, _r, _e in _policies(db)}
    gone = {t: set(before[t]) - set(after[t]) for t in before}
    evidence.expect("live: rows deleted per table", have=live, want={t: len(want[t]) for t in live})
    evidence.expect("live: ids deleted (= the model's expired ids)", have=gone, want=want)
    changed = [
        (t, i) for t in before for i, ts in before[t].items() if i in after[t] and after[t][i] != ts
    ]  # fmt: skip
    evidence.expect_no_rows("rows kept but changed", changed)


@pytest.mark.claim("G-1")
def test_a_disabled_policy_and_a_past_p_now_expire_nothing(db, evidence):
    """A disabled policy's table keeps its rows even far past the horizon; p_now in the far past expires nothing."""
    db.execute("SET LOCAL TimeZone = 'UTC'")
    table = _policies(db)[0][0]
    db.execute("UPDATE iu_core_retention_policy SET enabled = false WHERE table_name = %s", [table])
    rows = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT table_name, expired_rows FROM fn_iu_core_retention_cleanup(true, %s)", [FUTURE]
        ).fetchall()
    }
    evidence.expect_true(f"disabled policy {table} not reported", table not in rows, rows=[rows])
    want = _expected(db, FUTURE)
    evidence.expect("expired per enabled table at the far future", have=rows, want={t: len(want[t]) for t in rows})
    past = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT table_name, expired_rows FROM fn_iu_core_retention_cleanup(true, %s)", [PAST]
        ).fetchall()
    }
    evidence.expect("expired per table at the far past", have=past, want={t: 0 for t in past})


@pytest.mark.claim("G-1")
def test_a_horizon_needs_a_finite_p_now(db, evidence):
    """The cleanup refuses p_now infinity, -infinity or NULL, each alone (IU006): no horizon, nothing expired."""
    tables = [p.table for p in sup.policies(db)]
    before = sup.fingerprint(db, tables)
    cases = {"infinity": "infinity", "-infinity": "-infinity", "NULL": None}
    have = {}
    for name, now in cases.items():
        state, message = sqlstate_of(db, "SELECT * FROM fn_iu_core_retention_cleanup(true, %s::timestamptz)", [now])
        have[name] = [state, message]
    refused = ["IU006", "retention cleanup refused: p_now must be a finite timestamp"]
    evidence.expect("SQLSTATE and message per p_now", have=have, want={name: refused for name in cases})
    evidence.expect_no_rows(
        "policy tables whose rows changed", sup.fingerprint_delta(before, sup.fingerprint(db, tables))
    )
