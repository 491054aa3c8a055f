"""Preflight: before any proof runs, the target must be reachable and carry
the substrate. Each problem is one clear message and exit code 2."""

from __future__ import annotations

import psycopg

from iu_prove import migrations, pins
from iu_prove.dsn import mask
from iu_prove.errors import SetupError

MIN_SERVER_VERSION = 130000

# The substrate's objects named by the seed: present at every head >= 035.
REQUIRED = {
    "table": [
        "iu_core_config",
        "information_unit",
        "iu_piece_membership",
        "iu_collection_template",
        "iu_collection_template_instance_lineage",
        "iu_auto_instantiate_event_log",
        "iu_three_axis_envelope",
        "iu_three_axis_envelope_refresh_log",
        "iu_three_axis_envelope_trigger_error_log",
        "event_type_registry",
        "route_registry",
        "event_outbox",
        "event_outbox_delivery_log",
        "iu_core_retention_policy",
        "iu_vector_point",
    ],
    "view": ["v_iu_auto_instantiate_event_log"],
    "function": [
        "fn_iu_compose",
        "dot_iu_auto_instantiate_from_event",
        "fn_iu_auto_instantiate_rollback_by_actor",
        "dot_iu_auto_instantiate_rollback_by_actor",
        "fn_iu_three_axis_envelope_refresh_if_stale",
        "dot_iu_three_axis_envelope_refresh",
        "fn_event_outbox_deliver",
        "fn_iu_core_retention_cleanup",
        "dot_iu_healthcheck",
    ],
}


class PreflightFailed(SetupError):
    """The target cannot be proven against; the message says why and what to do."""


def missing_objects(conn: psycopg.Connection) -> list[str]:
    missing: list[str] = []
    for kind, names in REQUIRED.items():
        if kind == "function":
            present = {
                r[0]
                for r in conn.execute(
                    "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = ANY(%s)",
                    [names],
                ).fetchall()
            }
        else:
            relkinds = ["r", "p"] if kind == "table" else ["v", "m"]
            present = {
                r[0]
                for r in conn.execute(
                    "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                    'AND relname = ANY(%s) AND relkind = ANY(%s::"char"[])',
                    [names, relkinds],
                ).fetchall()
            }
        missing += [f"{kind} {n}" for n in names if n not in present]
    return missing


def check(conn: psycopg.Connection, dsn: str) -> str:
    """Run every preflight check; return the database's migration head."""
    version = conn.info.server_version
    if version < MIN_SERVER_VERSION:
        raise PreflightFailed(
            f"preflight: {mask(dsn)} runs PostgreSQL {version // 10000}; the substrate needs 13 or newer"
        )
    missing = missing_objects(conn)
    if missing:
        listing = "\n".join(f"  - {m}" for m in missing)
        raise PreflightFailed(
            f"preflight: {mask(dsn)} lacks the IU core substrate ({len(missing)} objects missing):\n"
            f"{listing}\n"
            "Point --iu-dsn at a database that has the substrate, or build one with "
            "`make migrate DSN=…` on a scratch database."
        )
    head = migrations.head(conn)
    if head is None:
        raise PreflightFailed(
            f"preflight: {mask(dsn)} has the substrate's objects but no migration ledger "
            f"({migrations.LEDGER}); apply the migrations with `make migrate` so its head is known"
        )
    pinned = pins.load()
    if pinned and head not in pinned:
        top = max(pinned)
        where = "ahead of" if head > top else "not one of"
        raise PreflightFailed(
            f"preflight: {mask(dsn)} is at migration head {head}, {where} the pinned heads "
            f"({', '.join(sorted(pinned))}); update this checkout or pin the head with `make pins`"
        )
    return head
