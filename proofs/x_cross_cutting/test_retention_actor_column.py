"""X-1: actor-scoped central retention cleanup through iu_core_retention_policy.actor_column."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg import sql
from psycopg.rows import dict_row

from iu_prove.profiles import scaleout_sizes
from proofs.x_cross_cutting._support import (
    AUDIT,
    GATE_RETENTION,
    LOOK_ALIKES,
    RETENTION_FIXTURE_ACTOR,
    actors,
    fingerprint,
    fingerprints,
    ids_of,
    look_alike,
    retention_tables,
    scalar,
    set_gate,
    sqlstate_of,
)

CLEANUP_BY_ACTOR = "SELECT * FROM fn_iu_core_retention_cleanup(%s, %s::timestamptz, %s)"
# The seed's retention fixture: three expired audit rows of its actor (md5 ids 1..3), two kept (4, 5).
FIXTURE_EXPIRED_AUDIT_IDS = [f"retention-fixture:audit_log:{i}" for i in (1, 2, 3)]
FIXTURE_SKIPPED_TABLES = [
    "event_outbox_delivery_log",
    "iu_three_axis_envelope_refresh_log",
    "iu_three_axis_envelope_trigger_error_log",
]

INSERT_AUDIT = f"""
INSERT INTO {AUDIT} (occurred_at, template_code, template_version, triggered_by, dry_run, detail)
SELECT now() - %s::interval - %s::interval * g, 'WF-AUDIT', 1, %s, true, jsonb_build_object('proof', 'X-1', 'g', g)
  FROM generate_series(1, %s) AS g
RETURNING id
"""


def _by_table(rows) -> dict[str, dict]:
    return {r["table_name"]: r for r in rows}


def _cleanup(conn, dry_run: bool, actor: str, now: str = "now") -> dict[str, dict]:
    cur = conn.cursor(row_factory=dict_row)
    return _by_table(cur.execute(CLEANUP_BY_ACTOR, [dry_run, now, actor]).fetchall())


def _policies_without_actor_column(conn) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM iu_core_retention_policy WHERE enabled AND actor_column IS NULL ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.claim("X-1")
@given(
    n=scaleout_sizes(),
    actor=actors("iu-x1-"),
    fresh=st.integers(min_value=0, max_value=5),
    other_kind=st.sampled_from(LOOK_ALIKES),
    other_n=st.integers(min_value=1, max_value=5),
)
@example(n=20, actor="iu-x1-a", fresh=2, other_kind="suffix", other_n=3)
@example(n=40, actor="iu-x1-bulk", fresh=5, other_kind="prefix", other_n=5)
def test_actor_scoped_cleanup_removes_only_that_actors_expired_audit_rows(
    rolled_back, evidence, n, actor, fresh, other_kind, other_n
):
    """Actor-scoped cleanup deletes exactly the actor's expired audit rows and reports actor-less tables skipped."""
    evidence.add("N", n)
    other = look_alike(actor, other_kind)
    with rolled_back() as db:
        retain = scalar(db, "SELECT retain FROM iu_core_retention_policy WHERE table_name = %s", [AUDIT])
        older = retain + dt.timedelta(hours=1)
        expired_of = "triggered_by = %s AND occurred_at < now() - %s::interval"
        pre = len(ids_of(db, AUDIT, expired_of, [actor, retain]))
        # n expired rows of the actor (older than the horizon), `fresh` kept rows, and a look-alike's expired rows
        db.execute(INSERT_AUDIT, [older, dt.timedelta(minutes=1), actor, n])
        db.execute(INSERT_AUDIT, [dt.timedelta(0), dt.timedelta(hours=1), actor, fresh])
        db.execute(INSERT_AUDIT, [older, dt.timedelta(minutes=1), other, other_n])
        want_deleted = ids_of(db, AUDIT, expired_of, [actor, retain])
        evidence.expect("the actor's expired rows (pre-existing + inserted)", have=len(want_deleted), want=pre + n)
        tables = retention_tables(db)
        before = fingerprints(db, tables)
        audit_before = ids_of(db, AUDIT)

        dry = _cleanup(db, True, actor)
        evidence.expect(
            "dry run: the actor's expired audit rows counted",
            have=dry[AUDIT]["expired_rows"],
            want=len(want_deleted),
        )
        evidence.expect("dry run changes nothing", have=fingerprints(db, tables), want=before)

        set_gate(db, GATE_RETENTION, True)
        live = _cleanup(db, False, actor)
        audit_after = ids_of(db, AUDIT)
        deleted = audit_before - audit_after
        evidence.add("deleted / expected", [len(deleted), len(want_deleted)])
        evidence.expect_no_rows(
            "audit rows deleted but not the actor's expired ones, or expired but kept",
            sorted(map(str, deleted ^ want_deleted)),
        )
        evidence.expect("reported deleted_rows", have=live[AUDIT]["deleted_rows"], want=len(want_deleted))
        survivors = ids_of(db, AUDIT, "triggered_by IN (%s, %s)", [actor, other])
        evidence.expect(
            "the actor's kept rows and the look-alike's rows survive", have=len(survivors), want=fresh + other_n
        )
        unchanged = {t: fingerprint(db, t) for t in tables if t != AUDIT}
        evidence.expect(
            "other retention tables untouched", have=unchanged, want={t: v for t, v in before.items() if t != AUDIT}
        )
        skipped = sorted(t for t, r in live.items() if r["skipped"])
        evidence.expect("tables reported skipped", have=skipped, want=_policies_without_actor_column(db))
        evidence.expect(
            "skipped tables delete nothing",
            have=sorted((t, r["deleted_rows"], r["expired_rows"]) for t, r in live.items() if r["skipped"]),
            want=[(t, 0, None) for t in skipped],
        )


@pytest.mark.claim("X-1")
def test_actor_scoped_cleanup_on_the_fixtures_prunes_the_fixture_actor_and_skips_three_tables(db, evidence):
    """On the fixtures, cleanup by iu-core-retention-fixture deletes its 3 expired audit rows and skips 3 tables."""
    want_ids = sorted(
        str(r[0]) for r in db.execute("SELECT md5(x)::uuid FROM unnest(%s::text[]) x", [FIXTURE_EXPIRED_AUDIT_IDS])
    )
    tables = retention_tables(db)
    before = fingerprints(db, tables)
    audit_before = ids_of(db, AUDIT)
    dry = _cleanup(db, True, RETENTION_FIXTURE_ACTOR)
    evidence.expect(
        "dry run per table (expired, deleted, skipped, skip reason)",
        have={t: [r["expired_rows"], r["deleted_rows"], r["skipped"], r["skip_reason"]] for t, r in dry.items()},
        want={AUDIT: [3, 0, False, None]}
        | {t: [None, 0, True, f"public.{t} has no actor column"] for t in FIXTURE_SKIPPED_TABLES},
    )
    set_gate(db, GATE_RETENTION, True)
    live = _cleanup(db, False, RETENTION_FIXTURE_ACTOR)
    deleted = sorted(map(str, audit_before - ids_of(db, AUDIT)))
    evidence.expect("deleted audit rows (the fixture's expired ids)", have=deleted, want=want_ids)
    evidence.expect("reported deleted_rows", have=live[AUDIT]["deleted_rows"], want=3)
    evidence.expect(
        "skipped tables", have=sorted(t for t, r in live.items() if r["skipped"]), want=FIXTURE_SKIPPED_TABLES
    )
    evidence.before_after("audit rows", before[AUDIT][0], fingerprint(db, AUDIT)[0])
    evidence.expect(
        "tables without an actor column untouched",
        have={t: fingerprint(db, t) for t in FIXTURE_SKIPPED_TABLES},
        want={t: before[t] for t in FIXTURE_SKIPPED_TABLES},
    )


@pytest.mark.claim("X-1")
def test_a_bad_actor_column_is_refused_at_registration(db, evidence):
    """A missing, empty or non-text actor_column is refused (IU050) at registration; a valid one is accepted."""
    policies = fingerprint(db, "iu_core_retention_policy")
    attempts = {
        "update to a missing column": (
            "UPDATE iu_core_retention_policy SET actor_column = 'triggerd_by' WHERE table_name = %s",
            [AUDIT],
        ),
        "update to a boolean column": (
            "UPDATE iu_core_retention_policy SET actor_column = 'dry_run' WHERE table_name = %s",
            [AUDIT],
        ),
        "update to an empty name": (
            "UPDATE iu_core_retention_policy SET actor_column = '' WHERE table_name = %s",
            [AUDIT],
        ),
        "insert with a missing column": (
            "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, actor_column) "
            "VALUES ('iu_collection_template_instance_lineage', 'created_at', '1 day', 'actorx')",
            [],
        ),
    }
    outcomes = {name: sqlstate_of(db, q, p) for name, (q, p) in attempts.items()}
    evidence.expect(
        "SQLSTATE per bad registration",
        have={k: v[0] for k, v in outcomes.items()},
        want=dict.fromkeys(outcomes, "IU050"),
    )
    evidence.expect_true(
        "each message names the bad column",
        all(
            w in outcomes[k][1]
            for k, w in [
                ("update to a missing column", "triggerd_by"),
                ("update to a boolean column", "dry_run"),
                ("update to an empty name", "empty"),
                ("insert with a missing column", "actorx"),
            ]
        ),
        rows=[v[1] for v in outcomes.values()],
    )
    evidence.expect(
        "policies unchanged after the refusals", have=fingerprint(db, "iu_core_retention_policy"), want=policies
    )
    ok = sqlstate_of(
        db,
        "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, actor_column, registered_in) "
        "VALUES ('iu_collection_template_instance_lineage', 'created_at', '1 day', 'actor', 'proof')",
    )
    evidence.expect("a valid actor column is accepted", have=ok[0], want=None, rows=[ok[1]])
    live = _cleanup(db, True, "iu-core-12x-bulk")
    evidence.expect(
        "the new policy is actor-scoped, not skipped",
        have=[
            live["iu_collection_template_instance_lineage"]["actor_column"],
            live["iu_collection_template_instance_lineage"]["skipped"],
        ],
        want=["actor", False],
    )


@pytest.mark.claim("X-1")
def test_actor_scoped_cleanup_refuses_a_closed_gate_a_bad_actor_and_a_non_finite_now(db, evidence):
    """Actor-scoped cleanup refuses a closed gate (IU002), a bad actor (IU003), an infinite or NULL p_now (IU006)."""
    tables = retention_tables(db)
    before = fingerprints(db, tables)
    cases = {
        "live, gate closed": (False, "now", RETENTION_FIXTURE_ACTOR),
        "pattern actor": (True, "now", "iu-core-%"),
        "empty actor": (True, "now", ""),
        "NULL actor": (True, "now", None),
        "p_now infinity": (True, "infinity", RETENTION_FIXTURE_ACTOR),
        "p_now -infinity": (True, "-infinity", RETENTION_FIXTURE_ACTOR),
        "p_now NULL": (True, None, RETENTION_FIXTURE_ACTOR),
    }
    have = {name: sqlstate_of(db, CLEANUP_BY_ACTOR, [d, now, a])[0] for name, (d, now, a) in cases.items()}
    evidence.expect(
        "SQLSTATE per refusal",
        have=have,
        want={
            "live, gate closed": "IU002",
            "pattern actor": "IU003",
            "empty actor": "IU003",
            "NULL actor": "IU003",
            "p_now infinity": "IU006",
            "p_now -infinity": "IU006",
            "p_now NULL": "IU006",
        },
    )
    evidence.expect("nothing written", have=fingerprints(db, tables), want=before)


@pytest.mark.claim("X-1")
def test_the_two_argument_cleanup_calls_answer_as_before(db, evidence):
    """Existing 0-2 argument cleanup calls still resolve to the 035 function: same five columns, same counts."""
    calls = {
        "()": "SELECT * FROM fn_iu_core_retention_cleanup()",
        "(true)": "SELECT * FROM fn_iu_core_retention_cleanup(true)",
        "(true, now())": "SELECT * FROM fn_iu_core_retention_cleanup(true, now())",
        "(p_dry_run => true)": "SELECT * FROM fn_iu_core_retention_cleanup(p_dry_run => true)",
    }
    policies = db.execute(
        "SELECT table_name, timestamp_column, retain FROM iu_core_retention_policy WHERE enabled ORDER BY 1"
    ).fetchall()
    expected = {
        table: scalar(
            db,
            sql.SQL("SELECT count(*) FROM {} WHERE {} < now() - %s::interval").format(
                sql.Identifier(table), sql.Identifier(ts_col)
            ),
            [retain],
        )
        for table, ts_col, retain in policies
    }
    shapes, counts = {}, {}
    for name, q in calls.items():
        cur = db.execute(q)
        shapes[name] = [d.name for d in cur.description]
        counts[name] = {r[0]: r[2] for r in cur.fetchall()}
    evidence.expect(
        "columns per call",
        have=shapes,
        want={c: ["table_name", "horizon", "expired_rows", "deleted_rows", "dry_run"] for c in calls},
    )
    evidence.expect("expired rows per call", have=counts, want={c: expected for c in calls})
    overloads = [
        r[0]
        for r in db.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = 'fn_iu_core_retention_cleanup' "
            "AND p.pronamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
    ]
    evidence.expect(
        "cleanup signatures",
        have=overloads,
        want=[
            "fn_iu_core_retention_cleanup(boolean,timestamp with time zone)",
            "fn_iu_core_retention_cleanup(boolean,timestamp with time zone,text)",
        ],
    )


@pytest.mark.claim("X-1")
@pytest.mark.intrusive
def test_an_actor_column_that_drifts_after_registration_stops_the_cleanup_before_it_deletes(db, evidence):
    """An actor column renamed away after registration stops the cleanup (IU051, naming it) before any delete."""
    db.execute("CREATE TABLE iu_x_probe_log (id int PRIMARY KEY, occurred_at timestamptz NOT NULL, who text)")
    db.execute(
        "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, actor_column, registered_in) "
        "VALUES ('iu_x_probe_log', 'occurred_at', '1 day', 'who', 'proof')"
    )
    db.execute("INSERT INTO iu_x_probe_log VALUES (1, now() - interval '2 days', %s)", [RETENTION_FIXTURE_ACTOR])
    db.execute("ALTER TABLE iu_x_probe_log RENAME COLUMN who TO whom")
    tables = retention_tables(db)
    before = fingerprints(db, tables)
    set_gate(db, GATE_RETENTION, True)
    state, message = sqlstate_of(db, CLEANUP_BY_ACTOR, [False, "now", RETENTION_FIXTURE_ACTOR])
    evidence.expect("SQLSTATE", have=state, want="IU051", rows=[message])
    evidence.expect_true("the message names the policy", "iu_x_probe_log" in message, rows=[message])
    evidence.expect("nothing deleted", have=fingerprints(db, tables), want=before)


@pytest.mark.claim("X-1")
@pytest.mark.intrusive
def test_a_skipped_table_whose_name_needs_quoting_is_named_as_a_quoted_identifier(db, evidence):
    """A policy table without an actor column whose name needs quotes is skipped as public."Its Name"."""
    name = "Retention Probe Log"
    db.execute(
        sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, occurred_at timestamptz NOT NULL)").format(sql.Identifier(name))
    )
    db.execute(
        "INSERT INTO iu_core_retention_policy (table_name, timestamp_column, retain, registered_in) "
        "VALUES (%s, 'occurred_at', '1 day', 'proof')",
        [name],
    )
    db.execute(sql.SQL("INSERT INTO {} VALUES (1, now() - interval '2 days')").format(sql.Identifier(name)))
    # the oracle: psycopg's identifier quoting, "Retention Probe Log"
    want_reason = f"public.{sql.Identifier(name).as_string(db)} has no actor column"
    dry = _cleanup(db, True, RETENTION_FIXTURE_ACTOR)
    row = dry.get(name, {})
    evidence.expect(
        "the quoted table's row (expired, deleted, skipped, skip reason)",
        have=[row.get("expired_rows"), row.get("deleted_rows"), row.get("skipped"), row.get("skip_reason")],
        want=[None, 0, True, want_reason],
    )
    evidence.expect(
        "its rows after the dry run",
        have=scalar(db, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))),
        want=1,
    )
