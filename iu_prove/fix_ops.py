"""Fixtures for operator scripts run through the real psql client."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus

from iu_prove import psql as psql_mod
from iu_prove.dsn import connect
from iu_prove.fix_db import PROOF_LOCK, PROOF_LOCK_WAIT, ConnectionHolder
from iu_prove.target import Target


class PsqlRunner:
    """``psql.run("scaleout/run_bounded_scaleout.sql", n=30)`` against one database.

    On a shared (DSN) database a script run against it holds the writing proofs' lock
    (``fix_db.PROOF_LOCK``) from another session while it runs, unless this worker's own
    proof transaction is open (and holds it): a script's writes, even rolled back, never
    interleave with another worker's writing proof.
    """

    def __init__(self, dsn: str, holder: ConnectionHolder | None = None):
        self.dsn, self.holder = dsn, holder

    def run(
        self, script=None, *, command: str | None = None, stdin: str | None = None, dsn: str | None = None, **variables
    ):
        def go():
            return psql_mod.run(dsn or self.dsn, script, variables=variables, command=command, stdin=stdin)

        own = self.holder.get() if self.holder is not None else None
        if dsn not in (None, self.dsn) or own is None or own.info.transaction_status != TransactionStatus.IDLE:
            return go()
        with connect(self.dsn) as turn:
            turn.execute(f"SELECT set_config('lock_timeout', '{PROOF_LOCK_WAIT}', true)")
            turn.execute(PROOF_LOCK)
            try:
                return go()
            finally:
                turn.rollback()


@pytest.fixture(scope="session")
def psql(proof_dsn: str, iu_target: Target, db_connection: ConnectionHolder) -> PsqlRunner:
    """Real psql bound to this worker's database (scripts must roll back or clean up)."""
    return PsqlRunner(proof_dsn, db_connection if iu_target.kind == "dsn" else None)
