"""Database fixtures: the worker's clone, its connection, rolled-back transactions,
fresh clones for durable proofs, and a private cluster for restart proofs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import psycopg
import pytest

from iu_prove import changes, claims, config, migrations, notrun, runstate, seed
from iu_prove.dsn import connect
from iu_prove.embedded import EmbeddedCluster
from iu_prove.errors import SetupError
from iu_prove.isolation import rolled_back as _rolled_back
from iu_prove.runstate import RunState, database_name
from iu_prove.target import Target


def _state(config: pytest.Config) -> RunState:
    return runstate.of(config)


@pytest.fixture(scope="session")
def iu_target(pytestconfig: pytest.Config) -> Target:
    """The run's database target (embedded, attached or DSN)."""
    tgt = _state(pytestconfig).target
    if tgt is None:
        notrun.skip("target", "no database target in this run")
    return tgt


@pytest.fixture(scope="session")
def proof_dsn(iu_target: Target) -> Iterator[str]:
    """This worker's database: its own clone of the template, or the DSN database."""
    if iu_target.database_dsn:
        yield iu_target.database_dsn
        return
    name = database_name("proof")
    dsn = iu_target.clone(name)
    yield dsn
    iu_target.drop(name)


class ConnectionHolder:
    """One connection per worker, reopened if a proof broke it (e.g. a restart)."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.dsn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()


@pytest.fixture(scope="session")
def db_connection(proof_dsn: str, iu_target: Target) -> Iterator[ConnectionHolder]:
    changes.enable(change_capture_on(iu_target))
    holder = ConnectionHolder(proof_dsn)
    yield holder
    holder.close()


def change_capture_on(target: Target) -> bool:
    """IU_PROVE_CHANGE_CAPTURE: ``auto`` — on where the run owns the database (embedded, attached,
    scratch DSN), off on a plain DSN: once added, the capture triggers' SHARE ROW EXCLUSIVE lock holds
    other sessions' writes to a watched table until the proof ends, and a writer that already holds a
    row lock the proof then wants deadlocks with it (H-6's concurrent load did); ``on`` — also on a
    plain DSN nobody else writes to (a restored staging copy); ``off`` — large tables are scanned
    instead, exactly and at their size."""
    mode = capture_mode()
    return mode == "on" or (mode == "auto" and target.commits_allowed)


def capture_mode() -> str:
    mode = str(config.env("IU_PROVE_CHANGE_CAPTURE")).strip().lower()
    if mode not in ("auto", "on", "off"):
        raise SetupError(f"IU_PROVE_CHANGE_CAPTURE={mode!r}: use auto, on or off")
    return mode


# On a shared (DSN) database the xdist workers' writing proofs take this lock in
# turn: each holds gate rows for its whole transaction, and two proofs taking
# two gates in opposite orders (with an operator queued on one) deadlock.
PROOF_LOCK = "SELECT pg_advisory_xact_lock(hashtext('iu_prove.writing_proof'))"
PROOF_LOCK_WAIT = "300s"


def transaction_setup(config: pytest.Config, *, read_only: bool = False) -> list[str]:
    """SQL run after BEGIN in every proof transaction: fixtures, sabotage, read-only."""
    state = _state(config)
    setup = []
    if state.target is not None and state.target.kind == "dsn" and not read_only:
        setup += [
            f"SELECT set_config('lock_timeout', '{PROOF_LOCK_WAIT}', true)",
            PROOF_LOCK,
            f"SELECT set_config('lock_timeout', '{state.timeouts['lock_timeout']}', true)",
        ]
    if state.target is not None and state.target.seed_in_transaction:
        setup.append(seed.script())
    if state.sabotage is not None and state.sabotage.mode == "transaction":
        setup.append(state.sabotage.sql)
    if read_only:
        setup.append("SELECT set_config('transaction_read_only', 'on', true)")
    return setup


@pytest.fixture
def rolled_back(
    request: pytest.FixtureRequest, db_connection: ConnectionHolder
) -> Callable[[], AbstractContextManager[psycopg.Connection]]:
    """A factory: ``with rolled_back() as conn:`` is one proof transaction, always rolled back.

    Hypothesis proofs open one per example inside the test body.
    """
    config = request.config
    read_only = claims.proof_class_of(request.node) == "readonly"

    @contextmanager
    def factory() -> Iterator[psycopg.Connection]:
        with _rolled_back(
            db_connection.get(), timeouts=_state(config).timeouts, setup=transaction_setup(config, read_only=read_only)
        ) as conn:
            yield conn

    return factory


@pytest.fixture
def db(rolled_back) -> Iterator[psycopg.Connection]:
    """The proof's connection, inside a transaction that is rolled back afterwards."""
    with rolled_back() as conn:
        yield conn


@pytest.fixture
def fresh_database(request: pytest.FixtureRequest, iu_target: Target) -> Iterator[str]:
    """A database of the proof's own, committed to freely (durable proofs).

    A clone of the run's template, dropped afterwards: on the embedded target and
    on a ``--iu-scratch`` DSN target alike (whose template sits beside the
    scratch database), so a durable proof never commits where others read.
    """
    if claims.proof_class_of(request.node) != "durable":
        raise pytest.UsageError(f"{request.node.nodeid}: fresh_database is for @pytest.mark.durable proofs")
    _need_clones(iu_target)
    name = database_name("fresh", iu_target.beside)
    dsn = iu_target.clone(name)
    state = _state(request.config)
    if state.sabotage is not None and state.sabotage.mode == "transaction":
        with connect(dsn) as conn:  # durable proofs see the sabotage too
            state.sabotage.apply(conn)
            conn.commit()
    yield dsn
    iu_target.drop(name)


def _need_clones(iu_target: Target) -> None:
    """Skip (with the right kind of reason) unless the target can clone its template."""
    if iu_target.clones_allowed:
        return
    if iu_target.no_clones_reason:
        notrun.skip("environment", iu_target.no_clones_reason)
    notrun.skip("target", "needs a database of its own: the embedded target or a --iu-scratch DSN")


@pytest.fixture(scope="session")
def private_cluster(pytestconfig: pytest.Config, iu_target: Target) -> Iterator[EmbeddedCluster]:
    """A cluster of this worker's own, with the substrate and fixtures, that
    proofs may restart or crash without touching other workers."""
    if iu_target.kind == "dsn":
        notrun.skip("target", "needs the suite's own server (restart or crash): proven on the embedded target only")
    cluster = EmbeddedCluster()
    try:
        cluster.init()
        cluster.start()
        with connect(cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE iu_private")
        with connect(cluster.dsn("iu_private")) as conn:
            migrations.apply(conn)
            seed.load(conn)
            sab = _state(pytestconfig).sabotage
            if sab is not None:
                sab.apply(conn)
                conn.commit()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def attach_spec(iu_target: Target) -> str:
    """What a child pytest run needs to attach to this run's cluster and template."""
    if not iu_target.clones_allowed or iu_target.kind == "dsn":
        notrun.skip("target", "nested runs need the embedded target's template database")
    return iu_target.for_children().to_json()


@pytest.fixture
def scratch_database(iu_target: Target) -> Iterator[str]:
    """An empty database on the run's server, dropped afterwards (suite tests)."""
    if iu_target.kind == "dsn" and not iu_target.scratch:
        notrun.skip("target", "needs a server the run may create databases on: embedded or --iu-scratch")
    if iu_target.kind == "dsn":
        _need_clones(iu_target)  # the role must be able to create databases
    name = database_name("scratch", iu_target.beside)
    janitor = iu_target.janitor(name)
    janitor.drop()
    janitor.init()
    yield iu_target.dsn_for(name)
    janitor.drop()


@pytest.fixture
def substrate_clone(iu_target: Target) -> Iterator[str]:
    """A committed clone of the template (substrate and fixtures) on the run's
    server, dropped afterwards: a database the suite's tests treat as not their own."""
    _need_clones(iu_target)
    name = database_name("clone", iu_target.beside)
    dsn = iu_target.clone(name)
    yield dsn
    iu_target.drop(name)
