"""The commit guard: a proof's transaction is always rolled back, and code that
ends it early is caught."""

import psycopg
import pytest

from iu_prove.dsn import connect
from iu_prove.isolation import TransactionEnded, rolled_back


@pytest.fixture
def conn(scratch_database):
    with connect(scratch_database) as c:
        c.execute("CREATE TABLE t (n int)")
        c.commit()
        yield c


def count(c: psycopg.Connection) -> int:
    n = c.execute("SELECT count(*) FROM t").fetchone()[0]
    c.rollback()
    return n


def test_writes_inside_the_transaction_are_rolled_back(conn):
    with rolled_back(conn) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        assert tx.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    assert count(conn) == 0


@pytest.mark.parametrize("statement", ["COMMIT", "ROLLBACK", "END"])
def test_a_raw_transaction_end_inside_the_proof_is_caught(conn, statement):
    with pytest.raises(TransactionEnded, match="ended the proof's transaction"), rolled_back(conn) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        tx.execute(statement)
        tx.execute("INSERT INTO t VALUES (2)")
    # what came after the raw COMMIT is still rolled back
    assert count(conn) == (1 if statement in ("COMMIT", "END") else 0)


def test_an_aborted_transaction_is_still_the_proofs_own(conn):
    with rolled_back(conn) as tx, pytest.raises(psycopg.errors.DivisionByZero):
        tx.execute("SELECT 1/0")
    assert count(conn) == 0


def test_timeouts_are_set_locally_in_every_proof_transaction(conn):
    with rolled_back(conn, timeouts={"lock_timeout": "1234ms"}) as tx:
        assert tx.execute("SHOW lock_timeout").fetchone()[0] == "1234ms"
    assert conn.execute("SHOW lock_timeout").fetchone()[0] == "0"


def test_read_only_setup_refuses_writes(conn):
    setup = ["SELECT set_config('transaction_read_only', 'on', true)"]
    with rolled_back(conn, setup=setup) as tx, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        tx.execute("INSERT INTO t VALUES (1)")
