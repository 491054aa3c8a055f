"""Shared pieces of the F proofs: the internal event type, its five boundary
facts (as migration 038 states them and as read straight from the tables),
and psql runs of the event-boundary ops scripts."""

from __future__ import annotations

import re

import psycopg

from iu_prove import psql as psql_mod
from iu_prove.psql import PsqlResult
from proofs import _substrate as substrate

EVENT_TYPE = "iu.template.instance_auto_composed"
FACTS = ("registry_row_exists", "lane_not_live", "no_route", "delivery_disabled", "live_routes_empty")
SURFACE = "event_boundary_internal_only"
PROOF_SCRIPT = "event-boundary/internal_only_proof.sql"
PROBE_SCRIPT = "event-boundary/outbox_probe.sql"
UNREGISTER_SCRIPT = "event-boundary/unregister_internal_routes.sql"
ACTOR = "iu-prove-f"

GATES_SQL = """
SELECT key, value FROM iu_core_config
 WHERE key IN ('iu_core.delivery_enabled', 'iu_core.delivery_live_routes')
"""

COUNTS_SQL = """
SELECT (SELECT count(*) FROM event_outbox),
       (SELECT count(*) FROM event_outbox_delivery_log),
       (SELECT count(*) FROM route_registry)
"""


def facts(conn: psycopg.Connection, event_type: str = EVENT_TYPE) -> dict[str, bool]:
    """fact -> holds, as fn_iu_event_boundary_facts (migration 038) states them."""
    rows = conn.execute("SELECT fact, ok FROM fn_iu_event_boundary_facts(%s) ORDER BY fact_no", [event_type]).fetchall()
    return {fact: ok for fact, ok in rows}


def independent_facts(conn: psycopg.Connection, event_type: str = EVENT_TYPE) -> dict[str, bool]:
    """The same five facts read straight from the tables, without migration 038."""
    lane = conn.execute("SELECT delivery_lane FROM event_type_registry WHERE event_type = %s", [event_type]).fetchone()
    routes = conn.execute("SELECT count(*) FROM route_registry WHERE event_type = %s", [event_type]).fetchone()[0]
    gates = dict(conn.execute(GATES_SQL).fetchall())
    return {
        "registry_row_exists": lane is not None,
        "lane_not_live": lane is None or lane[0] != "live",
        "no_route": routes == 0,
        "delivery_disabled": gates.get("iu_core.delivery_enabled") is False,
        "live_routes_empty": gates.get("iu_core.delivery_live_routes") == "",
    }


def set_gate(conn: psycopg.Connection, key: str, value: str) -> None:
    """Set a config key (JSON text) through the substrate's setter, as the F proofs' actor."""
    substrate.set_config_json(conn, key, value, ACTOR)


def error_line(result: PsqlResult) -> str:
    """The first ERROR line psql printed (empty when none)."""
    return next((line for line in result.stderr.splitlines() if "ERROR:" in line), "")


def named_facts(text: str) -> list[str]:
    """The boundary facts a message names, in fact order."""
    return [f for f in FACTS if re.search(rf"\b{f}\b", text)]


def fact_table(stdout: str) -> dict[str, str]:
    """fact -> holds|BROKEN from the table internal_only_proof.sql prints."""
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 5 and cells[1] in FACTS:
            found[cells[1]] = cells[3]
    return found


def key_values(stdout: str, prefix: str) -> dict[str, str]:
    """``key=value`` pairs of the first output line starting with ``prefix``."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith(prefix)), "")
    return dict(pair.split("=", 1) for pair in line[len(prefix) :].split() if "=" in pair)


def run_in_rolled_back_session(dsn: str, setup_sql: str, script: str, **variables: object) -> PsqlResult:
    """One psql session: BEGIN, ``setup_sql``, the script, ROLLBACK (see :mod:`iu_prove.psql`)."""
    return psql_mod.run_in_rolled_back_session(dsn, setup_sql, script, **variables)
