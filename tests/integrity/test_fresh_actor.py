"""A proof's fresh actor is one no row anywhere carries: the committed state is read
once per process (the units' creators) and the small tables per actor; after the
transaction wrote, every table is read again."""

from __future__ import annotations

import pytest

from iu_prove.dsn import connect
from proofs.e_scaleout import _scaleout as sc

pytestmark = pytest.mark.claim("H-1")

# one committed row carrying the actor, in one table each
ROWS = {
    "information_unit": "INSERT INTO information_unit (code, kind, created_by) VALUES ('FA-UNIT', 'piece', %(a)s)",
    "lineage": (
        "INSERT INTO iu_collection_template_instance_lineage (instance_collection_id, template_code, template_version, "
        "template_digest, instance_digest, actor) SELECT id, 'T', 1, 'd', 'd', %(a)s FROM information_unit "
        "WHERE code = 'DIEU'"
    ),
    "audit": (
        "INSERT INTO iu_auto_instantiate_event_log (template_code, template_version, triggered_by, dry_run) "
        "VALUES ('T', 1, %(a)s, true)"
    ),
    "outbox": (
        "INSERT INTO event_outbox (event_type, payload) "
        "SELECT event_type, jsonb_build_object('actor', %(a)s::text) FROM event_type_registry LIMIT 1"
    ),
    "config": "UPDATE iu_core_config SET updated_by = %(a)s WHERE key = (SELECT min(key) FROM iu_core_config)",
}


def test_a_fresh_actor_skips_every_name_a_committed_or_written_row_carries(substrate_clone, evidence):
    """fresh_actor passes over a name carried by one committed row in any one table, or written by the transaction."""
    with connect(substrate_clone) as conn:
        for table, statement in ROWS.items():
            conn.execute(statement, {"a": f"iu-fa-{table}"})
        conn.commit()
        have = {table: sc.fresh_actor(conn, f"iu-fa-{table}") for table in ROWS}
        have["none"] = sc.fresh_actor(conn, "iu-fa-none")
        conn.rollback()
        evidence.expect(
            "fresh actors in the committed state",
            have=have,
            want={**{table: f"iu-fa-{table}-2" for table in ROWS}, "none": "iu-fa-none"},
        )
        conn.execute(ROWS["information_unit"].replace("FA-UNIT", "FA-UNIT-W"), {"a": "iu-fa-written"})
        evidence.expect(
            "fresh actor after the transaction wrote a unit for it",
            have=sc.fresh_actor(conn, "iu-fa-written"),
            want="iu-fa-written-2",
        )
        conn.rollback()
