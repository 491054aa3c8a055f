"""Change capture: every row the proof's transaction writes to chosen tables, at
the cost of what it writes, not of what the tables hold.

On a production-sized database a proof cannot afford to read a whole table
before and after each step to learn what the code under test changed. Inside
the proof's own transaction (always rolled back) this module adds, per table,
statement-level ``AFTER INSERT / UPDATE / DELETE`` triggers with transition
tables and an ``AFTER TRUNCATE`` trigger. They append the old and new image of
every written row (``to_jsonb``) to a temporary table; the triggers, their
function and the temporary table vanish with the rollback, and no other session
ever sees them (uncommitted catalog rows).

    cap = changes.capture(db, ["iu_three_axis_envelope"])
    mark = cap.mark()
    ...                                       # the code under test
    delta = cap.since(mark)                   # {table: Delta(old=[...], new=[...])}

Exact, and why: every INSERT, UPDATE and DELETE of a row fires the table's
statement triggers with that row in its transition table — whether it comes
from the proof, a function, another trigger or a foreign-key action — and
capture rows written inside a subtransaction that is rolled back vanish with
the rows they describe. What escapes it is refused, never silently missed:
``since`` raises :class:`CaptureLost` when a TRUNCATE ran, when one of the
triggers was dropped or disabled, or when ``session_replication_role`` is not
``origin`` (which silences ordinary triggers). Writes by other sessions are not
the proof's and are not seen (a proof that commits in another session uses a
whole-table fingerprint instead).

:func:`capture` raises :class:`CaptureUnavailable` when the role may not add
triggers to a table (another role owns it): the caller falls back to reading
whole tables.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

TRIGGER_PREFIX = "zz_iu_prove_capture"
ARM_LOCK_TIMEOUT = "2s"  # CREATE TRIGGER waits at most this long (autovacuum yields after deadlock_timeout)
LOG = "iu_prove_capture_log"

SETUP = f"""
CREATE TEMP TABLE IF NOT EXISTS {LOG} (
  seq   bigserial PRIMARY KEY,
  tbl   text NOT NULL,
  op    text NOT NULL,
  side  text NOT NULL,
  image jsonb
) ON COMMIT DROP;
CREATE OR REPLACE FUNCTION pg_temp.iu_prove_capture() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO pg_temp.{LOG} (tbl, op, side) VALUES (TG_TABLE_NAME, TG_OP, 'none');
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO pg_temp.{LOG} (tbl, op, side, image) SELECT TG_TABLE_NAME, TG_OP, 'old', to_jsonb(o) FROM old_rows o;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO pg_temp.{LOG} (tbl, op, side, image) SELECT TG_TABLE_NAME, TG_OP, 'new', to_jsonb(n) FROM new_rows n;
  END IF;
  RETURN NULL;
END
$fn$;
"""

TRIGGERS = {
    "ins": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "upd": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "del": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
    "trunc": "AFTER TRUNCATE ON {table}",
}

GUARD_SQL = """
SELECT c.relname, count(t.oid) FILTER (WHERE t.tgenabled IN ('O', 'A'))
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = %s
  LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname LIKE %s
 WHERE c.relname = ANY(%s)
 GROUP BY c.relname
"""


# Set per run by the harness (IU_PROVE_CHANGE_CAPTURE): off, every capture() is unavailable and the
# callers read whole tables instead. On, CREATE TRIGGER's SHARE ROW EXCLUSIVE lock (taken only if free
# within ARM_LOCK_TIMEOUT) holds other sessions' writes to the table until the proof's transaction ends.
ENABLED = True


def enable(on: bool) -> None:
    global ENABLED
    ENABLED = on


class CaptureUnavailable(RuntimeError):
    """The triggers could not be added (e.g. the role does not own the table)."""


class CaptureLost(AssertionError):
    """Something the triggers cannot see happened: a TRUNCATE, a dropped or disabled trigger,
    or a session_replication_role other than origin."""


@dataclass
class Delta:
    """One table's writes, in the order they happened: ``events`` of ("old", image) for a row
    version an UPDATE or DELETE removed and ("new", image) for one an INSERT or UPDATE added."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def old(self) -> list[dict[str, Any]]:
        return [image for side, image in self.events if side == "old"]

    @property
    def new(self) -> list[dict[str, Any]]:
        return [image for side, image in self.events if side == "new"]

    def by_key(self, column: str) -> dict[Any, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        """``{key: (before, after)}`` for every key written: the row's image before its first write
        (None: it did not exist) and after its last (None: it was removed)."""
        spans: dict[Any, list[dict[str, Any] | None]] = {}
        for side, image in self.events:
            key = image.get(column)
            span = spans.setdefault(key, [image if side == "old" else None, None])
            span[1] = image if side == "new" else None
        return {key: (span[0], span[1]) for key, span in spans.items()}

    def net(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(removed, added) with images that were removed and added again cancelled out (as
        multisets): the table's content differs from the mark's exactly when either is non-empty."""
        removed, added = self.net_text()
        return [json.loads(r) for r in removed], [json.loads(r) for r in added]

    def net_text(self) -> tuple[list[str], list[str]]:
        """:meth:`net` as sorted canonical JSON texts (keys sorted), for hashing."""
        added = Counter(json.dumps(r, sort_keys=True) for r in self.new)
        removed = Counter(json.dumps(r, sort_keys=True) for r in self.old)
        return sorted((removed - added).elements()), sorted((added - removed).elements())

    def keys(self, column: str) -> set[Any]:
        """Values of ``column`` in every old and new image (e.g. the collections a write touched)."""
        return {r.get(column) for r in (*self.old, *self.new)} - {None}


class Capture:
    def __init__(self, conn: psycopg.Connection, tables: Sequence[str], schema: str):
        self.conn, self.tables, self.schema = conn, list(tables), schema

    def mark(self) -> int:
        """A point in the log: :meth:`since` returns what was written after it."""
        return int(self.conn.execute(f"SELECT coalesce(max(seq), 0) FROM pg_temp.{LOG}").fetchone()[0])

    def since(self, mark: int, tables: Sequence[str] | None = None) -> dict[str, Delta]:
        """``{table: Delta}`` of every captured table, or of ``tables``, (empty deltas included)
        written after ``mark``; a TRUNCATE of any captured table refuses."""
        self.check()
        names = list(self.tables if tables is None else tables)
        deltas = {name: Delta() for name in names}
        rows = self.conn.execute(
            f"SELECT tbl, op, side, image FROM pg_temp.{LOG} WHERE seq > %s AND (tbl = ANY(%s) OR op = 'TRUNCATE') "
            "ORDER BY seq",
            [mark, names],
        ).fetchall()
        for table, op, side, image in rows:
            if op == "TRUNCATE":
                raise CaptureLost(f"{table} was truncated: its removed rows cannot be listed")
            deltas[table].events.append((side, image))
        return deltas

    def check(self) -> None:
        """Raise :class:`CaptureLost` unless every trigger is in place and firing."""
        role = self.conn.execute("SELECT current_setting('session_replication_role')").fetchone()[0]
        if role != "origin":
            raise CaptureLost(f"session_replication_role is {role}: ordinary triggers do not fire")
        armed = dict(self.conn.execute(GUARD_SQL, [self.schema, TRIGGER_PREFIX + "%", self.tables]).fetchall())
        lost = [t for t in self.tables if armed.get(t, 0) != len(TRIGGERS)]
        if lost:
            raise CaptureLost(f"the capture triggers of {', '.join(lost)} were dropped or disabled")


def capture(conn: psycopg.Connection, tables: Sequence[str], schema: str = "public") -> Capture:
    """Add the capture triggers to ``tables`` inside the connection's open transaction
    (removed by its rollback, which the proof's always is)."""
    if conn.autocommit or conn.info.transaction_status != TransactionStatus.INTRANS:
        raise ValueError("capture() needs the proof's open transaction: the triggers must never be committed")
    if not ENABLED:
        raise CaptureUnavailable("change capture is off for this target (IU_PROVE_CHANGE_CAPTURE)")
    armed = {r[0] for r in conn.execute(GUARD_SQL, [schema, TRIGGER_PREFIX + "%", list(tables)]).fetchall() if r[1]}
    waited = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the proof's transaction usable
            # never queue behind other sessions' writers: a busy table is read whole instead
            conn.execute("SELECT set_config('lock_timeout', %s, true)", [ARM_LOCK_TIMEOUT])
            conn.execute(SETUP)
            for table in (t for t in tables if t not in armed):  # armed earlier in this transaction
                for suffix, event in TRIGGERS.items():
                    name = sql.Identifier(f"{TRIGGER_PREFIX}_{suffix}")
                    target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
                    conn.execute(
                        sql.SQL("CREATE TRIGGER {} " + event + " FOR EACH STATEMENT "
                                "EXECUTE FUNCTION pg_temp.iu_prove_capture()").format(name, table=target)
                    )  # fmt: skip
    except psycopg.Error as exc:
        raise CaptureUnavailable(f"cannot capture writes to {', '.join(tables)}: {exc}".strip()) from exc
    finally:
        if conn.info.transaction_status == TransactionStatus.INTRANS:
            conn.execute("SELECT set_config('lock_timeout', %s, true)", [waited])
    return Capture(conn, tables, schema)


class Watch:
    """Rows of one table whose chosen columns changed since the watch began (or since the last
    :meth:`changed`): ``{key: (before, after)}`` with ``before``/``after`` the columns' values as
    a tuple, None for a row that did not exist / no longer exists. Keys and values as JSON renders
    them (uuids and timestamps as text).

    From change capture, at the cost of what was written; where the role may not add triggers,
    from the whole table read at both ends.
    """

    def __init__(self, conn: psycopg.Connection, table: str, key: str, columns: Sequence[str], schema: str = "public"):
        self.conn, self.table, self.key, self.columns, self.schema = conn, table, key, tuple(columns), schema
        try:
            self.capture: Capture | None = capture(conn, [table], schema)
            self.mark = self.capture.mark()
        except CaptureUnavailable:
            self.capture, self.rows = None, self._read()

    def _project(self, image: dict[str, Any] | None) -> tuple | None:
        return None if image is None else tuple(image.get(c) for c in self.columns)

    def _read(self) -> dict[Any, tuple | None]:
        query = sql.SQL("SELECT to_jsonb(t) FROM {}.{} AS t").format(
            sql.Identifier(self.schema), sql.Identifier(self.table)
        )
        return {image[self.key]: self._project(image) for (image,) in self.conn.execute(query)}

    def changed(self) -> dict[Any, tuple[tuple | None, tuple | None]]:
        if self.capture is None:
            now = self._read()
            spans = {k: (self.rows.get(k), now.get(k)) for k in self.rows.keys() | now.keys()}
            self.rows = now
        else:
            delta = self.capture.since(self.mark, [self.table])[self.table]
            self.mark = self.capture.mark()
            spans = {k: (self._project(b), self._project(a)) for k, (b, a) in delta.by_key(self.key).items()}
        return {k: span for k, span in spans.items() if span[0] != span[1]}
