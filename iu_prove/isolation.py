"""Each proof runs in one transaction that is always rolled back.

psycopg's ``transaction(force_rollback=True)`` does not stop code under test
from running a raw ``COMMIT``: afterwards psycopg silently opens a new
transaction and only that one is rolled back. So every proof transaction
carries a transaction-local marker set right after ``BEGIN``; if the marker is
gone at the end (or no transaction is open), the transaction was ended early,
and the proof fails saying so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus

from iu_prove import config

MARKER = "iu_prove.transaction_marker"
DEFAULT_TIMEOUTS = {
    name: str(config.knob(f"IU_PROVE_{name.upper()}").default)
    for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
}


class TransactionEnded(AssertionError):
    """Code under test ended the proof's transaction (COMMIT or ROLLBACK)."""


def transaction_intact(conn: psycopg.Connection, marker: str) -> bool:
    status = conn.info.transaction_status
    if status == TransactionStatus.INERROR:
        return True  # an aborted transaction is still the proof's own
    if status != TransactionStatus.INTRANS:
        return False
    return conn.execute("SELECT current_setting(%s, true)", [MARKER]).fetchone()[0] == marker


@contextmanager
def rolled_back(
    conn: psycopg.Connection,
    *,
    timeouts: Mapping[str, str] = DEFAULT_TIMEOUTS,
    setup: Sequence[str] = (),
) -> Iterator[psycopg.Connection]:
    """Open a transaction, run ``setup`` SQL in it, yield, and roll it back.

    Raises :class:`TransactionEnded` if the body ended the transaction.
    """
    if conn.autocommit:
        raise ValueError("rolled_back() needs a connection with autocommit off")
    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.rollback()
    marker = uuid.uuid4().hex
    conn.execute("SELECT set_config(%s, %s, true)", [MARKER, marker])
    for name, value in timeouts.items():
        conn.execute("SELECT set_config(%s, %s, true)", [name, value])
    for sql in setup:
        conn.execute(sql)
    failed = False
    try:
        yield conn
    except BaseException:
        failed = True
        raise
    finally:
        intact = conn.closed or conn.broken or transaction_intact(conn, marker)
        if not conn.closed:
            conn.rollback()
        if not intact and not failed:
            raise TransactionEnded(
                "code under test ended the proof's transaction (a COMMIT or ROLLBACK ran inside it); "
                "anything written before that point may have been committed"
            )
