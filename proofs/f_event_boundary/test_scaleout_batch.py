"""F-7: across a scaleout batch of N orchestrator instances, with the delivery
worker run, none of the batch's outbox rows is delivered."""

from __future__ import annotations

import pytest

from iu_prove.profiles import for_every_n
from proofs.f_event_boundary import _boundary as fb

BATCH_ACTOR = "iu-core-f7-boundary-batch"
TEMPLATES_SQL = "SELECT code, version FROM iu_collection_template ORDER BY kind DESC, code, version"
BATCH_SQL = """
SELECT count(*), count(*) FILTER (WHERE o.event_type = %(type)s),
       count(*) FILTER (WHERE o.delivered_at IS NOT NULL)
  FROM event_outbox o WHERE o.aggregate_id = ANY (%(ids)s)
"""
BATCH_LOG_SQL = """
SELECT count(*) FROM event_outbox_delivery_log d
  JOIN event_outbox o ON o.id = d.outbox_id WHERE o.aggregate_id = ANY (%(ids)s)
"""


@pytest.mark.claim("F-7")
@for_every_n
def test_no_outbox_row_of_a_scaleout_batch_is_delivered(rolled_back, evidence, n):
    """A batch of N orchestrator instances writes N internal outbox rows; the worker delivers none, gates shut/open."""
    evidence.add("N", n)
    with rolled_back() as db:
        templates = db.execute(TEMPLATES_SQL).fetchall()
        log_before = db.execute("SELECT count(*) FROM event_outbox_delivery_log").fetchone()[0]
        fb.set_gate(db, "iu_core.auto_instantiate_enabled", "true")
        ids = []
        for i in range(n):
            code, version = templates[i % len(templates)]
            row = db.execute(
                "SELECT instance_id FROM dot_iu_auto_instantiate_from_event(%s, %s, false, %s)",
                [code, BATCH_ACTOR, version],
            ).fetchone()
            ids.append(row[0])
        fb.set_gate(db, "iu_core.auto_instantiate_enabled", "false")
        args = {"type": fb.EVENT_TYPE, "ids": ids}
        evidence.add("batch outbox rows", db.execute(BATCH_SQL, args).fetchone()[0])
        evidence.expect(
            "batch outbox rows (all, of the internal type)",
            have=db.execute(BATCH_SQL, args).fetchone()[:2],
            want=(n, n),
        )

        shut = db.execute("SELECT fn_event_outbox_deliver(1000)").fetchone()[0]
        fb.set_gate(db, "iu_core.delivery_enabled", "true")
        fb.set_gate(db, "iu_core.delivery_live_routes", f'"{fb.EVENT_TYPE}"')
        opened = db.execute("SELECT fn_event_outbox_deliver(1000)").fetchone()[0]
        delivered = db.execute(BATCH_SQL, args).fetchone()[2]
        batch_log = db.execute(BATCH_LOG_SQL, args).fetchone()[0]
        log_after = db.execute("SELECT count(*) FROM event_outbox_delivery_log").fetchone()[0]
        evidence.add("worker deliveries (gates shut, gates open)", [shut, opened])
        evidence.add("batch rows delivered", delivered)
        evidence.expect(
            "worker deliveries (gates shut, gates open), batch rows delivered, batch delivery-log rows, log delta",
            have=[shut, opened, delivered, batch_log, log_after - log_before],
            want=[0, 0, 0, 0, 0],
        )
