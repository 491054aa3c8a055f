"""Shared helpers of the E proofs: running a batch, an actor's footprint, refusals.

The proofs check the batch independently of the code under test: expected mix
counts are computed here from the issue's rule (round(N * 2/3) workflow
instances), not read back from ``fn_iu_bounded_scaleout_plan``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from proofs import _substrate as substrate
from proofs._substrate import AUDIT, LINEAGE, scalar

BACKGROUND_ACTOR = "iu-core-12x-bulk"
GATE = "iu_core.auto_instantiate_enabled"
REFRESH_GATE = "iu_core.three_axis_auto_refresh_enabled"
EVENT_TYPE = "iu.template.instance_auto_composed"
DIEU_ENVELOPE = (27, 23, 36)

# The seven tables rollback-by-actor reports on, in its order.
ROLLBACK_TABLES = (
    "iu_three_axis_envelope",
    "iu_three_axis_envelope_dirty",
    "iu_piece_membership",
    "event_outbox",
    AUDIT,
    LINEAGE,
    "information_unit",
)


def bound_for(n: int) -> int | None:
    """The explicit bound a proof passes for N above the default 40 (the thorough profile), else None."""
    return n if n > 40 else None


def default_actor(n: int) -> str:
    return f"iu-core-{n}x-bulk"


def scaleout(
    conn: psycopg.Connection,
    n: int | None,
    actor: str | None = None,
    *,
    share: float | None = None,
    bound: int | None = None,
    dry_run: bool | None = None,
) -> list[dict[str, Any]]:
    """``fn_iu_bounded_scaleout``, passing only the arguments given (so the defaults are exercised)."""
    args = ["p_n => %(n)s::int"]
    params: dict[str, Any] = {"n": n}
    for name, value, cast in (
        ("actor", actor, "text"),
        ("workflow_share", share, "numeric"),
        ("bound", bound, "int"),
        ("dry_run", dry_run, "boolean"),
    ):
        if value is not None:
            args.append(f"p_{name} => %({name})s::{cast}")
            params[name] = value
    query = f"SELECT * FROM fn_iu_bounded_scaleout({', '.join(args)}) ORDER BY ordinal"
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()  # type: ignore[arg-type]


def refusal(conn: psycopg.Connection, call: Callable[[], object]) -> psycopg.Error | None:
    """Run ``call`` in a savepoint; return the database error it raised (None if it succeeded)."""
    try:
        with conn.transaction():
            call()
    except psycopg.Error as exc:
        return exc
    return None


def sqlstate(error: psycopg.Error | None) -> str | None:
    return None if error is None else error.sqlstate


def footprint(conn: psycopg.Connection, actor: str) -> dict[str, int]:
    """Rows anywhere in the substrate that carry ``actor`` (exact match)."""
    row = conn.execute(
        """
        WITH units AS MATERIALIZED (SELECT id FROM information_unit WHERE created_by = %(a)s)  -- one scan
        SELECT (SELECT count(*) FROM iu_collection_template_instance_lineage WHERE actor = %(a)s),
               (SELECT count(*) FROM iu_auto_instantiate_event_log WHERE triggered_by = %(a)s),
               (SELECT count(*) FROM units),
               (SELECT count(*) FROM iu_piece_membership m JOIN units u ON u.id = m.collection_id),
               (SELECT count(*) FROM event_outbox WHERE payload ->> 'actor' = %(a)s),
               (SELECT count(*) FROM iu_core_config WHERE updated_by = %(a)s)
        """,
        {"a": actor},
    ).fetchone()
    return dict(zip(FOOTPRINT_KEYS, row, strict=True))


FOOTPRINT_KEYS = ("lineage", "audit", "information_unit", "membership", "outbox", "config")
NO_FOOTPRINT = dict.fromkeys(FOOTPRINT_KEYS, 0)


def has_rows(conn: psycopg.Connection, actor: str) -> bool:
    return any(footprint(conn, actor).values())


# (database, actor) found without rows in the committed state, by this process
_NO_ROWS: set[tuple[Any, ...]] = set()
FOOTPRINT_TABLES = ("iu_collection_template_instance_lineage", "iu_auto_instantiate_event_log", "information_unit",
                    "iu_piece_membership", "event_outbox", "iu_core_config")  # fmt: skip
UNWRITTEN_SQL = """
SELECT inet_server_addr()::text, inet_server_port(), (SELECT oid FROM pg_database WHERE datname = current_database()),
       coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0) = 0
  FROM pg_stat_xact_user_tables s WHERE s.relname = ANY(%s)
"""


# (database) -> every created_by of the units in the committed state: one scan per process and database
_CREATORS: dict[tuple[Any, ...], frozenset[str]] = {}
COMMITTED_FOOTPRINT_SQL = """
SELECT (SELECT count(*) FROM iu_collection_template_instance_lineage WHERE actor = %(a)s)
     + (SELECT count(*) FROM iu_auto_instantiate_event_log WHERE triggered_by = %(a)s)
     + (SELECT count(*) FROM event_outbox WHERE payload ->> 'actor' = %(a)s)
     + (SELECT count(*) FROM iu_core_config WHERE updated_by = %(a)s)
"""


def _has_committed_rows(conn: psycopg.Connection, database: tuple[Any, ...], actor: str) -> bool:
    """:func:`has_rows` in the committed state: the units' creators read once, the other tables per actor
    (an actor that created no unit has no membership row either: memberships are found through its units)."""
    if database not in _CREATORS:
        _CREATORS[database] = frozenset(r[0] for r in conn.execute("SELECT DISTINCT created_by FROM information_unit"))
    return actor in _CREATORS[database] or bool(conn.execute(COMMITTED_FOOTPRINT_SQL, {"a": actor}).fetchone()[0])


def fresh_actor(conn: psycopg.Connection, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``… : the first that has no rows (staging databases may hold some).

    While the transaction has written nothing to the tables an actor's rows live in
    (``pg_stat_xact_user_tables``), it sees the committed state, which the suite's rolled-back
    proofs never change: the units' creators are then read once per process and database, and
    each candidate is looked up once.
    """
    addr, port, dboid, unwritten = conn.execute(UNWRITTEN_SQL, [list(FOOTPRINT_TABLES)]).fetchone()
    actor, i = base, 1
    while not (unwritten and (addr, port, dboid, actor) in _NO_ROWS):
        if _has_committed_rows(conn, (addr, port, dboid), actor) if unwritten else has_rows(conn, actor):
            i += 1
            actor = f"{base}-{i}"
            continue
        if unwritten:
            _NO_ROWS.add((addr, port, dboid, actor))
        break
    return actor


def rows_per_actor(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """``{actor: (lineage rows, audit rows)}`` over every actor."""
    rows = conn.execute(
        """
        SELECT a, sum(l)::int, sum(e)::int FROM (
          SELECT actor AS a, 1 AS l, 0 AS e FROM iu_collection_template_instance_lineage
          UNION ALL
          SELECT triggered_by, 0, 1 FROM iu_auto_instantiate_event_log) x
        GROUP BY a
        """
    ).fetchall()
    return {a: (lin, aud) for a, lin, aud in rows}


def gate_row(conn: psycopg.Connection, key: str = GATE) -> tuple[Any, ...]:
    """The gate's whole config row (value, updated_at, updated_by)."""
    return tuple(
        conn.execute("SELECT value, updated_at, updated_by FROM iu_core_config WHERE key = %s", [key]).fetchone()
    )


def gate_open(conn: psycopg.Connection, key: str = GATE) -> bool:
    return bool(scalar(conn, "SELECT fn_iu_core_gate(%s)", [key]))


def set_gate(conn: psycopg.Connection, key: str, value: bool, actor: str = "iu-prove-e") -> None:
    """Toggle a gate inside the proof's transaction, as the E proofs' actor."""
    substrate.set_gate(conn, key, bool(value), actor)


def expected_workflow_count(n: int, share: float = 2 / 3) -> int:
    """The issue's mix: round(N * share) workflow instances, both kinds once N >= 2 for a mixed share."""
    wf = int(n * share + 0.5)
    if 0 < share < 1 and n >= 2:
        wf = max(1, min(n - 1, wf))
    return wf


def rollback_report(conn: psycopg.Connection, actor: str, dry_run: bool) -> dict[str, int]:
    rows = conn.execute(
        "SELECT table_name, affected_rows FROM dot_iu_auto_instantiate_rollback_by_actor(%s, %s)", [actor, dry_run]
    ).fetchall()
    return {t: int(n) for t, n in rows}


def table_counts(conn: psycopg.Connection, tables: Iterable[str] = ROLLBACK_TABLES) -> dict[str, int]:
    return {t: int(scalar(conn, f"SELECT count(*) FROM {t}")) for t in tables}


def orphans(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT lineage_id, instance_code, actor, reason FROM v_iu_lineage_orphans ORDER BY lineage_id, reason"
        ).fetchall()
    ]


def drift(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT lineage_id, instance_code, actor, recorded_instance_digest, current_instance_digest "
            "FROM v_iu_digest_drift ORDER BY lineage_id"
        ).fetchall()
    ]


def dieu_envelope(conn: psycopg.Connection) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """DIEU's (cached, computed) envelope."""
    cached = conn.execute(
        "SELECT e.axis_a_count, e.axis_b_count, e.axis_c_count FROM iu_three_axis_envelope e "
        "JOIN information_unit u ON u.id = e.collection_id WHERE u.code = 'DIEU'"
    ).fetchone()
    computed = conn.execute(
        "SELECT * FROM fn_iu_three_axis_envelope_compute((SELECT id FROM information_unit WHERE code = 'DIEU'))"
    ).fetchone()
    return tuple(cached or ()), tuple(computed or ())


def export_text(conn: psycopg.Connection, code: str) -> str:
    return str(scalar(conn, "SELECT fn_iu_collection_export_text(%s)", [code]))


def with_collection_code(text: str, code: str) -> str:
    """The same canonical text naming another collection code."""
    return re.sub(r"(?m)^collection: .*$", lambda _: f"collection: {code}", text, count=1)


def membership_digest(conn: psycopg.Connection, code: str) -> str:
    return str(scalar(conn, "SELECT fn_iu_membership_digest(id) FROM information_unit WHERE code = %s", [code]))
