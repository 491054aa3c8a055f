"""The proofs' shared vocabulary: the substrate's names and small accessors.

Every package's helper module (``_envelope``, ``_scaleout``, ``_boundary``,
``_support``) imports from here; a name or query used by more than one
package lives here once. Import style everywhere: ``from proofs._substrate
import …`` (absolute).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

GATES = {
    "iu_core.three_axis_auto_refresh_enabled": False,
    "iu_core.auto_instantiate_enabled": False,
    "iu_core.delivery_enabled": False,
    "iu_core.delivery_live_routes": "",
    "iu_core.retention_enabled": False,
}
DIEU_ENVELOPE = (27, 23, 36)
LINEAGE = "iu_collection_template_instance_lineage"
AUDIT = "iu_auto_instantiate_event_log"
REFRESH_LOG = "iu_three_axis_envelope_refresh_log"
ERROR_LOG = "iu_three_axis_envelope_trigger_error_log"
DIRTY = "iu_three_axis_envelope_dirty"
REFRESH_GATE = "iu_core.three_axis_auto_refresh_enabled"
INSTANTIATE_GATE = "iu_core.auto_instantiate_enabled"
INTERNAL_EVENT_TYPE = "iu.template.instance_auto_composed"
BACKGROUND_ACTOR = "iu-core-12x-bulk"
PROOF_ACTOR = "iu-prove"


def scalar(conn: psycopg.Connection, query: str | sql.Composable, params: Iterable[object] = ()) -> Any:
    row = conn.execute(query, list(params)).fetchone()
    return row[0] if row else None


def count(conn: psycopg.Connection, table: str, where: str = "true", params: Iterable[object] = ()) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE ").format(sql.Identifier(table)) + sql.SQL(where)
    return int(conn.execute(query, list(params)).fetchone()[0])


def counts(conn: psycopg.Connection, tables: Iterable[str]) -> dict[str, int]:
    return {t: count(conn, t) for t in tables}


def gate(conn: psycopg.Connection, key: str) -> object:
    return scalar(conn, "SELECT fn_iu_core_config_get(%s)", [key])


def set_gate(conn: psycopg.Connection, key: str, value: object, actor: str = PROOF_ACTOR) -> None:
    """Change a gate inside the caller's transaction (never outside one that is rolled back)."""
    set_config_json(conn, key, json.dumps(value), actor)


def set_config_json(conn: psycopg.Connection, key: str, json_text: str, actor: str = PROOF_ACTOR) -> None:
    """Set a config key to a JSON text through the substrate's setter, inside the caller's transaction."""
    conn.execute("SELECT fn_iu_core_config_set(%s, %s::jsonb, %s)", [key, json_text, actor])


def gate_open(conn: psycopg.Connection, key: str) -> bool:
    """The gate as the substrate reads it (``fn_iu_core_gate``)."""
    return bool(scalar(conn, "SELECT fn_iu_core_gate(%s)", [key]))


def envelope(conn: psycopg.Connection, code: str) -> tuple[int, int, int] | None:
    row = conn.execute(
        "SELECT e.axis_a_count, e.axis_b_count, e.axis_c_count FROM iu_three_axis_envelope e "
        "JOIN information_unit u ON u.id = e.collection_id WHERE u.code = %s",
        [code],
    ).fetchone()
    return tuple(row) if row else None


def computed_envelope(conn: psycopg.Connection, code: str) -> tuple[int, int, int] | None:
    row = conn.execute(
        "SELECT c.* FROM information_unit u, fn_iu_three_axis_envelope_compute(u.id) c WHERE u.code = %s", [code]
    ).fetchone()
    return tuple(row) if row else None


def envelope_mismatches(conn: psycopg.Connection, codes: Iterable[str] | None = None) -> list[tuple]:
    """Collections whose cached envelope differs from recomputation (or is missing).

    ``codes`` limits the check to those collections (O(changed)); None checks every one.
    """
    scope = None if codes is None else list(codes)
    return conn.execute(
        """
        SELECT u.code, e.axis_a_count, e.axis_b_count, e.axis_c_count, c.axis_a_count, c.axis_b_count, c.axis_c_count
          FROM information_unit u
          CROSS JOIN LATERAL fn_iu_three_axis_envelope_compute(u.id) c
          LEFT JOIN iu_three_axis_envelope e ON e.collection_id = u.id
         WHERE u.kind = 'collection'
           AND (%(scope)s::text[] IS NULL OR u.code = ANY(%(scope)s::text[]))
           AND (e.collection_id IS NULL OR (e.axis_a_count, e.axis_b_count, e.axis_c_count)
                IS DISTINCT FROM (c.axis_a_count, c.axis_b_count, c.axis_c_count))
         ORDER BY u.code""",
        {"scope": scope},
    ).fetchall()


def dirty_codes(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT u.code FROM iu_three_axis_envelope_dirty d JOIN information_unit u ON u.id = d.collection_id "
            "ORDER BY u.code"
        ).fetchall()
    ]


def instantiate(
    conn: psycopg.Connection,
    template_code: str,
    actor: str = PROOF_ACTOR,
    *,
    dry_run: bool = False,
    version: int | None = None,
    instance_code: str | None = None,
) -> tuple:
    return conn.execute(
        "SELECT * FROM dot_iu_auto_instantiate_from_event(%s, %s, %s, %s, %s)",
        [template_code, actor, dry_run, version, instance_code],
    ).fetchone()


def healthcheck(conn: psycopg.Connection) -> list[tuple[str, bool, str]]:
    return [tuple(r) for r in conn.execute("SELECT surface, ok, detail FROM dot_iu_healthcheck()").fetchall()]


def sqlstate_of(conn: psycopg.Connection, query: str, params: Iterable[object] = ()) -> tuple[str | None, str]:
    """Run ``query`` in a savepoint; return (SQLSTATE, message) of the error it raises, or (None, '')."""
    try:
        with conn.transaction():
            conn.execute(query, list(params))
    except psycopg.Error as exc:
        return exc.sqlstate, (exc.diag.message_primary or str(exc)).strip()
    return None, ""


# 045's lock order: a raw write to iu_core_config first locks every config row by key, as
# fn_iu_core_config_set does, so it cannot deadlock with a concurrent setter (a DELETE or a
# multi-row write alone locks in physical order, which is the migrations' order, not the keys').
LOCK_CONFIG_ROWS = "SELECT 1 FROM iu_core_config ORDER BY key FOR UPDATE"

# a gate's states as a healthcheck line names them: open (JSON true), closed (false), invalid (any other
# JSON value, written raw past fn_iu_core_config_set's type check), missing (no row)
GATE_STATES = {"open": "true", "closed": "false", "invalid": '"yes"', "missing": None}


def check_with_gate(conn: psycopg.Connection, check: str, key: str, state: str) -> tuple[bool, str]:
    """Put gate ``key`` in ``state`` (GATE_STATES) with raw writes, then (ok, detail) of the check function."""
    conn.execute(LOCK_CONFIG_ROWS)
    if GATE_STATES[state] is None:
        conn.execute("DELETE FROM iu_core_config WHERE key = %s", [key])
    else:
        conn.execute("UPDATE iu_core_config SET value = %s::jsonb WHERE key = %s", [GATE_STATES[state], key])
    ok, detail = conn.execute(sql.SQL("SELECT ok, detail FROM {}()").format(sql.Identifier(check))).fetchone()
    return ok, detail
