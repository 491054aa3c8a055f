"""Table fingerprints: what a schema's tables hold, comparable before and after.

A table's fingerprint is its row count and the md5 of its rows rendered as
text, newline-joined in text order::

    SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C")) FROM tbl t

so it ignores physical row order and changes with any inserted, deleted or
updated row (every column, generated ones included). Two fingerprints of a
schema taken in the same transaction, or in two sessions, are equal exactly when
no table's content differs.

    before = fingerprint.of_schema(conn)
    ...                                  # the code under test
    changed = fingerprint.diff(before, fingerprint.of_schema(conn))
    assert not changed, fingerprint.describe(changed)

Large tables (``LARGE_ROWS`` estimated rows or more when first seen) are
fingerprinted against a *horizon* instead, so the cost does not grow with rows
nobody touched: the horizon ``H`` is the oldest transaction id still running
when the database is first fingerprinted by this process (kept for the
process), and a large table's fingerprint is its row count plus the md5 of only
the rows whose ``xmin`` is ``H`` or later — rows written (inserted, or updated
into a new version) since ``H`` by anyone, the transaction under test included.
That is exact: a row older than ``H`` that is visible now was already visible
at every later fingerprint, so the old rows seen later are a subset of the old
rows seen earlier; with equal counts and equal recent rows, they are the same
set. One scan per table, no sort or md5 of the untouched rows. Within one
transaction a large table is not scanned again while the transaction has
written nothing to it since its last fingerprint (``pg_stat_xact_user_tables``
inserts/updates/deletes and the relation's file node, which TRUNCATE and
rewrites change): any write by the code under test, even one undone, rescans.
(Rows frozen by VACUUM read as old; nothing freezes rows this young.)

Inside one transaction a large table is scanned once at most: its first
fingerprint arms change capture (:mod:`iu_prove.changes`) and later ones are
derived from that base and the row images the transaction removed and added
since (net of those that cancel out), at the cost of what was written. In a
proof's own transaction (:mod:`iu_prove.isolation`'s marker set) the base is
not even scanned: it is a token of the transaction and the capture mark, with
no row count, so such fingerprints compare only with each other. A
derived fingerprint equals the base when the table holds what it held, and
equals another derived one exactly when the net changes are the same; so the
comparisons a proof makes inside its transaction stay exact. Compare a
fingerprint with one taken in another transaction only when it was the first
of its transaction (or unchanged), as the residue check does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from iu_prove import changes, config
from iu_prove.isolation import MARKER as PROOF_MARKER

LARGE_ROWS = int(str(config.env("IU_PROVE_FINGERPRINT_LARGE_ROWS")))
TX_MARK = "iu_prove.fingerprint_tx"

TABLES_SQL = """
SELECT c.relname
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
 ORDER BY c.relname COLLATE "C"
"""


@dataclass(frozen=True)
class TableFingerprint:
    """Row count and md5 of one table's rows (``md5`` is None for an empty table).

    With ``horizon`` set (a large table), ``md5`` covers only the rows written at
    or after that transaction id; fingerprints are comparable at equal horizons.
    """

    rows: int | None
    md5: str | None
    horizon: int | None = None
    change: str | None = None  # a proof transaction's own view: the net rows written since its first look

    def __str__(self) -> str:
        if self.rows is None:
            return f"{self.change or 'as at'} the proof transaction's first look ({(self.md5 or '')[:12]})"
        scope = f" (rows since xid {self.horizon})" if self.horizon is not None else ""
        return f"{self.rows} rows, md5{scope} {self.md5[:12] if self.md5 else '-'}"


@dataclass
class _DatabaseScope:
    horizon: int
    large: set[str]
    seen: set[str]


# per database (server address, port, database oid): the horizon and which tables are large
_SCOPES: dict[tuple, _DatabaseScope] = {}
# per (database, backend, transaction): {table: (write marks, fingerprint)} of large tables
_TX_CACHE: dict[tuple, dict[str, tuple[tuple, TableFingerprint]]] = {}

SCOPE_SQL = """
SELECT coalesce(inet_server_addr()::text, 'local'), coalesce(inet_server_port(), 0),
       (SELECT d.oid::bigint FROM pg_database d WHERE d.datname = current_database()),
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint
"""

ESTIMATE_SQL = """
SELECT c.relname, greatest(c.reltuples, 0)::bigint
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
"""

MARKS_SQL = """
SELECT c.relname, pg_relation_filenode(c.oid), coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0),
       coalesce(s.n_tup_del, 0)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_xact_user_tables s ON s.relid = c.oid
 WHERE n.nspname = %s AND c.relname = ANY(%s)
"""


def _scope(conn: psycopg.Connection, schema: str) -> tuple[tuple, _DatabaseScope]:
    addr, port, dboid, xmin = conn.execute(SCOPE_SQL).fetchone()
    key = (addr, port, dboid, schema)
    scope = _SCOPES.get(key)
    if scope is None:
        scope = _SCOPES[key] = _DatabaseScope(horizon=int(xmin), large=set(), seen=set())
    unseen = [r for r in conn.execute(ESTIMATE_SQL, [schema]).fetchall() if r[0] not in scope.seen]
    for name, estimate in unseen:  # decided once per table, so both sides of a comparison agree
        scope.seen.add(name)
        if estimate >= LARGE_ROWS:
            scope.large.add(name)
    return key, scope


def _tx_mark(conn: psycopg.Connection) -> str:
    """An id of the connection's open transaction (a transaction-local setting)."""
    mark = conn.execute("SELECT current_setting(%s, true)", [TX_MARK]).fetchone()[0]
    if not mark:
        mark = uuid.uuid4().hex
        conn.execute("SELECT set_config(%s, %s, true)", [TX_MARK, mark])
    return mark


def _tx_cache(conn: psycopg.Connection, key: tuple) -> dict[str, tuple[tuple, TableFingerprint]] | None:
    """This transaction's cache of large-table fingerprints (None outside a transaction block)."""
    if conn.autocommit:
        return None
    mark = _tx_mark(conn)
    pid = conn.info.backend_pid
    if len(_TX_CACHE) > 64:
        _TX_CACHE.clear()
    return _TX_CACHE.setdefault((key, pid, mark), {})


def _where(where: str | None) -> sql.Composable:
    return sql.SQL(" WHERE ({})").format(sql.SQL(where)) if where else sql.SQL("")


def _of_large_table(
    conn: psycopg.Connection, table: str, schema: str, horizon: int, where: str | None = None
) -> TableFingerprint:
    query = sql.SQL(
        "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\") "
        "FILTER (WHERE age(t.xmin) <= age(%s::text::xid))) FROM {}.{} AS t{}"
    ).format(sql.Identifier(schema), sql.Identifier(table), _where(where))
    rows, digest = conn.execute(query, [str(horizon % 2**32)]).fetchone()
    return TableFingerprint(int(rows), digest, horizon)


Fingerprints = dict[str, TableFingerprint]
Changes = dict[str, tuple[TableFingerprint | None, TableFingerprint | None]]


def tables(conn: psycopg.Connection, schema: str = "public") -> list[str]:
    """Ordinary and partitioned tables of ``schema`` (partitions folded into their parent), by name."""
    return [r[0] for r in conn.execute(TABLES_SQL, [schema]).fetchall()]


def of_table(
    conn: psycopg.Connection, table: str, schema: str = "public", where: str | None = None
) -> TableFingerprint:
    """The fingerprint of one table (against the database's horizon when the table is large),
    or of its rows that satisfy ``where`` (SQL over the row alias ``t``, e.g. ``t.kind = 'piece'``;
    exact in the same way: a row version that leaves the filter changes the count, one that
    enters or stays in it is a new version, written since the horizon)."""
    key, scope = _scope(conn, schema)
    if table in scope.large:
        return _of_large_table_in_tx(conn, table, schema, scope.horizon, key, where)
    return _of_whole_table(conn, table, schema, where)


def _of_whole_table(conn: psycopg.Connection, table: str, schema: str, where: str | None = None) -> TableFingerprint:
    query = sql.SQL(
        "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\")) FROM {}.{} AS t{}"
    ).format(sql.Identifier(schema), sql.Identifier(table), _where(where))
    rows, digest = conn.execute(query).fetchone()
    return TableFingerprint(int(rows), digest)


def of_schema(conn: psycopg.Connection, schema: str = "public", exclude: Iterable[str] = ()) -> Fingerprints:
    """``{table: TableFingerprint}`` for every table of ``schema`` but those in ``exclude``."""
    skip = set(exclude)
    key, scope = _scope(conn, schema)
    names = [name for name in tables(conn, schema) if name not in skip]
    large = [name for name in names if name in scope.large]
    cache = _tx_cache(conn, key) if large else None
    marks = {r[0]: tuple(r[1:]) for r in conn.execute(MARKS_SQL, [schema, large]).fetchall()} if large else {}
    prints: Fingerprints = {}
    for name in names:
        if name not in scope.large:
            prints[name] = _of_whole_table(conn, name, schema)
            continue
        hit = cache.get(name) if cache is not None else None
        if hit is not None and hit[0] == marks.get(name):
            prints[name] = hit[1]  # this transaction has written nothing to it since
            continue
        prints[name] = _of_large_table_in_tx(conn, name, schema, scope.horizon, key)
        if cache is not None:
            cache[name] = (marks.get(name), prints[name])
    return prints


# per (database, backend, transaction): {table or (table, where): (capture, mark, fingerprint at the mark)};
# {table: None} once the table was scanned in the transaction
_BASES: dict[tuple, dict[str | tuple[str, str], tuple[changes.Capture, int, TableFingerprint] | None]] = {}

# the images among ``%s`` (JSON texts of rows of the table) that satisfy a filter over the alias t
_FILTER_IMAGES_SQL = "SELECT i FROM unnest(%s::text[]) AS i, jsonb_populate_record(NULL::{}.{}, i::jsonb) AS t{}"


def _of_large_table_in_tx(
    conn: psycopg.Connection, table: str, schema: str, horizon: int, key: tuple, where: str | None = None
) -> TableFingerprint:
    """A large table's fingerprint; inside a transaction, after the first, derived from the first
    and what the transaction wrote to the table since (change capture), without a scan.

    The first fingerprint of the table in the transaction arms change capture, then scans (the
    base). A later one is the base itself when the writes since cancel out (as a multiset of row
    images, the table holds what it held), else the base's count and md5 combined with the
    removed and added images: two derived fingerprints are equal exactly when the tables are
    (the same base, the same net change). Anything capture cannot see (a TRUNCATE, a disabled
    trigger) scans again; so does a role that may not add triggers. With ``where``, the base and
    the images written since are those satisfying it: a row that leaves the filter is a removed
    image, one that enters it an added one.
    """
    if conn.autocommit:
        return _of_large_table(conn, table, schema, horizon, where)
    bases = _BASES.setdefault((key, conn.info.backend_pid, _tx_mark(conn)), {})
    if len(_BASES) > 64:
        _BASES.clear()
        bases = _BASES.setdefault((key, conn.info.backend_pid, _tx_mark(conn)), {})
    if table in bases and bases[table] is None:  # scanned first in this transaction: scanned every time
        return _of_large_table(conn, table, schema, horizon, where)
    slot = table if where is None else (table, where)
    base = bases.get(slot)
    if base is not None:
        capture, mark, print_at_mark = base
        try:
            with conn.transaction():  # a savepoint: a capture undone by a rolled-back savepoint fails here alone
                removed, added = capture.since(mark, [table])[table].net_text()
                if where is not None:
                    removed, added = (_satisfying(conn, table, schema, where, images) for images in (removed, added))
        except (changes.CaptureLost, psycopg.Error):
            bases[table] = None
            return _of_large_table(conn, table, schema, horizon, where)
        else:
            if not removed and not added:
                return print_at_mark
            h = hashlib.md5((print_at_mark.md5 or "").encode())
            for sign, images in (("-", removed), ("+", added)):
                for image in images:
                    h.update(f"\n{sign}{image}".encode())
            rows = None if print_at_mark.rows is None else print_at_mark.rows - len(removed) + len(added)
            return TableFingerprint(rows, "d" + h.hexdigest(), horizon, f"{len(removed)} row(s) removed, "
                                    f"{len(added)} added since")  # fmt: skip
    try:
        capture = changes.capture(conn, [table], schema)
        mark = capture.mark()
    except changes.CaptureUnavailable:  # e.g. autovacuum held the table: this transaction scans it throughout,
        bases[table] = None  # so its fingerprints never mix a scanned one with a capture-relative one
        return _of_large_table(conn, table, schema, horizon, where)
    if conn.execute("SELECT current_setting(%s, true)", [PROOF_MARKER]).fetchone()[0]:
        # a proof's own transaction compares its fingerprints with each other only: no scan at all
        token = f"tx:{_tx_mark(conn)}:{table}:{mark}" + (
            "" if where is None else f":{hashlib.md5(where.encode()).hexdigest()}"
        )
        base = TableFingerprint(None, token, horizon)
    else:
        base = _of_large_table(conn, table, schema, horizon, where)
    bases[slot] = (capture, mark, base)
    return base


def _satisfying(conn: psycopg.Connection, table: str, schema: str, where: str, images: list[str]) -> list[str]:
    """The row images (JSON texts) among ``images`` that satisfy ``where``, in their order."""
    if not images:
        return []
    query = sql.SQL(_FILTER_IMAGES_SQL).format(sql.Identifier(schema), sql.Identifier(table), _where(where))
    keep = {r[0] for r in conn.execute(query, [images]).fetchall()}
    return [i for i in images if i in keep]


def diff(before: Mapping[str, TableFingerprint], after: Mapping[str, TableFingerprint]) -> Changes:
    """Tables whose fingerprint differs (or that appeared or vanished): ``{table: (before, after)}``."""
    return {
        name: (before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def describe(changes: Changes) -> list[str]:
    """One readable line per changed table, e.g. ``information_unit: 79 rows, md5 3f… -> 80 rows, md5 9a…``."""
    return [f"{name}: {b or 'absent'} -> {a or 'absent'}" for name, (b, a) in changes.items()]


def counts(prints: Mapping[str, TableFingerprint]) -> dict[str, int | None]:
    """``{table: row count}`` of a schema fingerprint (for evidence)."""
    return {name: fp.rows for name, fp in prints.items()}
