"""F-2, F-3: an outbox row of the internal type is never delivered, and the
BEGIN/ROLLBACK probe leaves no trace — with the delivery gates shut or open."""

from __future__ import annotations

import psycopg
import pytest

from iu_prove.dsn import connect
from iu_prove.evidence import Evidence
from proofs.f_event_boundary import _boundary as fb

PROBE_SQL = 'INSERT INTO event_outbox (event_type, payload) VALUES (%s, \'{"probe": "F"}\') RETURNING id'
TYPE_LOG_SQL = "SELECT count(*) FROM event_outbox_delivery_log WHERE event_type = %s"


def _open_delivery_gates(db: psycopg.Connection) -> dict[str, object]:
    """Open both delivery gates inside the caller's transaction, listing the internal type; return them as read back."""
    fb.set_gate(db, "iu_core.delivery_enabled", "true")
    fb.set_gate(db, "iu_core.delivery_live_routes", f'"{fb.EVENT_TYPE}"')
    return dict(db.execute(fb.GATES_SQL).fetchall())


def _probe(db: psycopg.Connection, evidence: Evidence, label: str) -> str:
    """Insert one outbox row of the internal type, run the worker, expect nothing delivered; return the row id."""
    log_before = db.execute("SELECT count(*) FROM event_outbox_delivery_log").fetchone()[0]
    type_log_before = db.execute(TYPE_LOG_SQL, [fb.EVENT_TYPE]).fetchone()[0]
    probe_id = db.execute(PROBE_SQL, [fb.EVENT_TYPE]).fetchone()[0]
    delivered = db.execute("SELECT fn_event_outbox_deliver(1000)").fetchone()[0]
    log_after = db.execute("SELECT count(*) FROM event_outbox_delivery_log").fetchone()[0]
    evidence.expect(f"{label}: worker delivered", have=delivered, want=0)
    evidence.before_after(f"{label}: delivery log rows", log_before, log_after)
    evidence.expect(f"{label}: delivery log delta", have=log_after - log_before, want=0)
    evidence.expect(
        f"{label}: delivery log delta for {fb.EVENT_TYPE}",
        have=db.execute(TYPE_LOG_SQL, [fb.EVENT_TYPE]).fetchone()[0] - type_log_before,
        want=0,
    )
    delivered_rows = db.execute(
        "SELECT id, delivered_at FROM event_outbox WHERE event_type = %s AND delivered_at IS NOT NULL", [fb.EVENT_TYPE]
    ).fetchall()
    evidence.expect_no_rows(f"{label}: {fb.EVENT_TYPE} outbox rows delivered (probe included)", delivered_rows)
    evidence.expect(
        f"{label}: probe row undelivered",
        have=db.execute("SELECT delivered_at IS NULL FROM event_outbox WHERE id = %s", [probe_id]).fetchone()[0],
        want=True,
    )
    return str(probe_id)


def _no_trace(
    db: psycopg.Connection, evidence: Evidence, probe_id: str, counts_before: tuple, facts_before: dict[str, bool]
) -> None:
    evidence.expect(
        "after rollback: probe row present",
        have=db.execute("SELECT count(*) FROM event_outbox WHERE id = %s", [probe_id]).fetchone()[0],
        want=0,
    )
    evidence.expect(
        "after rollback: (outbox, delivery log, routes) rows",
        have=db.execute(fb.COUNTS_SQL).fetchone(),
        want=counts_before,
    )
    evidence.expect("after rollback: boundary facts as before", have=fb.independent_facts(db), want=facts_before)


def _only_the_probe_row(db: psycopg.Connection, evidence: Evidence, counts_before: tuple, facts: dict) -> None:
    """Inside the probe's transaction: the worker changed nothing but the probe's own outbox row was added.

    (That ROLLBACK leaves no trace is the harness's commit guard; this is what the probe itself did.)
    """
    evidence.expect(
        "inside: (outbox, delivery log, routes) rows = before + (1 probe row, 0, 0)",
        have=tuple(db.execute(fb.COUNTS_SQL).fetchone()),
        want=(counts_before[0] + 1, counts_before[1], counts_before[2]),
    )
    evidence.expect(
        "inside: registry, lane and route facts as before",
        have={k: v for k, v in fb.independent_facts(db).items() if k in fb.FACTS[:3]},
        want={k: v for k, v in facts.items() if k in fb.FACTS[:3]},
    )


@pytest.mark.claim("F-2")
def test_the_outbox_probe_script_delivers_nothing_and_leaves_no_trace(db, psql, evidence):
    """outbox_probe.sql (real psql): internal probe row not delivered, delivery log +0, no trace after ROLLBACK."""
    counts_before = db.execute(fb.COUNTS_SQL).fetchone()
    facts_before = fb.independent_facts(db)
    result = psql.run(fb.PROBE_SCRIPT)
    evidence.record("psql stderr", result.stderr.strip())
    evidence.expect("psql exit code", have=result.returncode, want=0, rows=[result.stdout[-800:]])
    inside = fb.key_values(result.stdout, "probe inside:")
    after = fb.key_values(result.stdout, "probe after rollback:")
    evidence.record("probe inside", inside)
    evidence.record("probe after rollback", after)
    evidence.expect(
        "inside: gates as shipped",
        have=(inside.get("delivery_enabled"), inside.get("delivery_live_routes")),
        want=("false", '""'),
    )
    evidence.expect(
        "inside: worker delivered / delivery log delta / rows for the probe / probe undelivered",
        have=[
            inside.get("worker_delivered"),
            inside.get("delivery_log_delta"),
            inside.get("probe_delivery_log_rows"),
            inside.get("probe_undelivered"),
        ],
        want=["0", "0", "0", "t"],
    )
    evidence.expect(
        "after rollback (script): probe rows left / outbox delta / delivery log delta / gates restored",
        have=[
            after.get("probe_rows_left"),
            after.get("outbox_delta"),
            after.get("delivery_log_delta"),
            after.get("gates_restored"),
        ],
        want=["0", "0", "0", "t"],
    )
    _no_trace(db, evidence, inside.get("probe_id", "00000000-0000-0000-0000-000000000000"), counts_before, facts_before)


@pytest.mark.claim("F-2")
def test_an_internal_outbox_row_is_not_delivered_and_rollback_leaves_no_trace(rolled_back, evidence):
    """BEGIN/ROLLBACK: an internal-type outbox row is not delivered (delivery log +0), nothing else is written."""
    with rolled_back() as db:
        counts_before = db.execute(fb.COUNTS_SQL).fetchone()
        facts_before = fb.independent_facts(db)
        _probe(db, evidence, "shipped gates")
        _only_the_probe_row(db, evidence, counts_before, facts_before)


@pytest.mark.claim("F-3")
def test_an_internal_event_is_not_delivered_even_with_the_delivery_gates_open(rolled_back, evidence):
    """Delivery gates opened in the transaction, listing the type: the internal, routeless type stays undelivered."""
    with rolled_back() as db:
        counts_before = db.execute(fb.COUNTS_SQL).fetchone()
        facts_before = fb.independent_facts(db)
        gates = _open_delivery_gates(db)
        evidence.expect(
            "gates as opened in the transaction",
            have=gates,
            want={"iu_core.delivery_enabled": True, "iu_core.delivery_live_routes": fb.EVENT_TYPE},
        )
        facts = fb.independent_facts(db)
        evidence.expect(
            "type still registered, internal and routeless",
            have=[facts["registry_row_exists"], facts["lane_not_live"], facts["no_route"]],
            want=[True, True, True],
        )
        undelivered_before = db.execute(
            "SELECT count(*) FROM event_outbox WHERE event_type = %s AND delivered_at IS NULL", [fb.EVENT_TYPE]
        ).fetchone()[0]
        _probe(db, evidence, "gates open")
        evidence.before_after(
            f"undelivered {fb.EVENT_TYPE} outbox rows (probe adds 1)",
            undelivered_before,
            db.execute(
                "SELECT count(*) FROM event_outbox WHERE event_type = %s AND delivered_at IS NULL", [fb.EVENT_TYPE]
            ).fetchone()[0],
        )
        _only_the_probe_row(db, evidence, counts_before, facts_before)


@pytest.mark.claim("F-3")
def test_the_outbox_probe_script_with_open_gates_delivers_nothing(db, psql, evidence):
    """outbox_probe.sql -v open_gates=true (real psql): gates open, probe still undelivered, gates restored."""
    counts_before = db.execute(fb.COUNTS_SQL).fetchone()
    facts_before = fb.independent_facts(db)
    result = psql.run(fb.PROBE_SCRIPT, open_gates="true")
    evidence.record("psql stderr", result.stderr.strip())
    evidence.expect("psql exit code", have=result.returncode, want=0, rows=[result.stdout[-800:]])
    inside = fb.key_values(result.stdout, "probe inside:")
    after = fb.key_values(result.stdout, "probe after rollback:")
    evidence.record("probe inside", inside)
    evidence.record("probe after rollback", after)
    evidence.expect(
        "inside: gates opened",
        have=(inside.get("delivery_enabled"), inside.get("delivery_live_routes")),
        want=("true", f'"{fb.EVENT_TYPE}"'),
    )
    evidence.expect(
        "inside: worker delivered / delivery log delta / rows for the probe / probe undelivered",
        have=[
            inside.get("worker_delivered"),
            inside.get("delivery_log_delta"),
            inside.get("probe_delivery_log_rows"),
            inside.get("probe_undelivered"),
        ],
        want=["0", "0", "0", "t"],
    )
    evidence.expect("after rollback (script): gates restored", have=after.get("gates_restored"), want="t")
    _no_trace(db, evidence, inside.get("probe_id", "00000000-0000-0000-0000-000000000000"), counts_before, facts_before)


@pytest.mark.claim("F-3")
@pytest.mark.durable  # registers a type and opens the gates in a psql session of its own: a database of its own
def test_the_outbox_probe_script_sees_a_delivery_when_one_happens(fresh_database, evidence):
    """Control: outbox_probe.sql on a live-lane type with an enabled route sees the worker deliver it and fails."""
    live_type = "iu.proof.f3-live-control"
    setup = (
        "INSERT INTO event_type_registry (event_type, delivery_lane, registered_in)"
        f" VALUES ('{live_type}', 'live', 'proof F-3 control');"
        f"INSERT INTO route_registry (event_type, route) VALUES ('{live_type}', 'proof-f3-control-route')"
    )
    result = fb.run_in_rolled_back_session(
        fresh_database, setup, fb.PROBE_SCRIPT, event_type=live_type, open_gates="true"
    )
    inside = fb.key_values(result.stdout, "probe inside:")
    evidence.record("probe inside", inside)
    evidence.expect(
        "inside: worker delivered / probe rows in the delivery log / probe undelivered",
        have=[inside.get("worker_delivered"), inside.get("probe_delivery_log_rows"), inside.get("probe_undelivered")],
        want=["1", "1", "f"],
        rows=[result.stdout[-600:], result.stderr[-400:]],
    )
    evidence.expect_where(
        "psql exit (the probe fails on a delivery)", result.returncode, lambda rc: rc != 0, "non-zero"
    )
    evidence.expect_true(
        "the failure names the delivery", "was delivered" in fb.error_line(result), rows=[fb.error_line(result)]
    )
    with connect(fresh_database) as conn:
        left = conn.execute("SELECT count(*) FROM event_type_registry WHERE event_type = %s", [live_type]).fetchone()[0]
        conn.rollback()
    evidence.expect("nothing of the control left", have=left, want=0)
