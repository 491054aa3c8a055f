"""The pytest plugin of generated-mutant runs (``-p iu_prove.mutants.plugin``).

It replaces the run loop of one serial pytest session (no xdist):

1. **Coverage map** — every eligible proof runs once, unmutated (each shard of
   the run measures every n-th proof, then waits for the others' shares). Every
   database cloned meanwhile has its PL/pgSQL functions' statements probed
   (:mod:`iu_prove.mutants.statements`): the probes a proof fired, read from the
   server log, are the statements it reached, in any session (its own, the psql
   and other sessions it opened, a durable proof's clone), whether the function
   then raised or not. The worker's clone gets its functions back afterwards.
   The functions each proof called (``track_functions = all``,
   ``pg_stat_user_functions``) are kept for SQL-language functions and bodies
   without probes. A proof that fails here is left out.
2. **Mutants** — generated from the functions in the worker's clone
   (:mod:`iu_prove.mutants.generate`), each compiled once in a rolled-back
   transaction. For each compiling mutant, only the proofs that reached its
   statement (:class:`Reach`) re-run in-process (``runtestprotocol``), at most
   ``--iu-mutants-max-proofs`` of them: one per claim first (:func:`choose`),
   then the rest, stopping at the first that fails. Hypothesis proofs try their explicit
   examples and ``MUTANT_EXAMPLES`` generated ones, derandomized (the same in
   the coverage run and every mutant run), without shrinking. The mutant is
   applied as a ``transaction``-mode sabotage — ``CREATE OR REPLACE`` after
   ``BEGIN`` in every proof transaction (and committed into a durable proof's
   fresh clone by ``fresh_database``) — and, for the psql and other sessions a
   proof opens, committed in the worker's own clone for the mutant's run and
   restored right after. A proof that fails outside its body (set-up,
   tear-down) kills the mutant only if it passes without it; otherwise the
   failure is listed as an error of the harness, never a kill.

Proofs left out of mutant runs: the inventory, pins and checksum claims
(``EXCLUDED_CLAIMS``: a kill there says nothing about behaviour), proofs on a
private cluster of their own (``private_cluster``: built once per session, it
cannot take a mutant per run) and nested pytest runs (``attach_spec``).

Results go to ``--iu-mutants-out`` as JSON; :mod:`iu_prove.mutants.report`
turns them into the report. With ``--iu-mutants-registry`` the session runs
registered sabotages instead (:mod:`iu_prove.mutants.registry`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import psycopg
import pytest
from _pytest.runner import runtestprotocol
from hypothesis import Phase, settings

from iu_prove import claims, paths
from iu_prove.dsn import connect, dbname_of
from iu_prove.mutants import generate, statements
from iu_prove.sabotage import Sabotage

EXCLUDED_CLAIMS = {
    "S-1": "migrations applied with their checksums (a checksum proof)",
    "S-12": "the inventory equals the pins (an inventory proof)",
    "D-1": "036's trigger shape and down scripts (an inventory proof)",
}
EXCLUDED_FIXTURES = {
    "private_cluster": "a private cluster built once per session cannot take a mutant per run",
    "attach_spec": "a nested pytest run of its own",
}
MUTANT_EXAMPLES = 3
# A mutant runs against every proof that reaches it (0), one per claim first (see choose),
# stopping at the first that fails: a survivor is a mutant every reaching proof let through.
# A cap (--iu-mutants-max-proofs N) is faster, and a mutant it stops early is reported as
# surviving with the number of reaching proofs that ran.
MUTANT_PROOFS_MAX = 0
COVERAGE_WAIT_S = 1800  # a shard waits this long for the others' share of the coverage map
MUTANT_STATEMENT_TIMEOUT = "20s"  # a mutant that loops is killed by its timeout, not waited for


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iu-mutants", "generated SQL mutants")
    group.addoption("--iu-mutants-out", default=None, help="write the mutant results (JSON) here")
    group.addoption("--iu-mutants-sample", type=int, default=0, help="run a seeded sample of this many mutants")
    group.addoption("--iu-mutants-seed", type=int, default=16, help="seed of the sample (default 16)")
    group.addoption("--iu-mutants-only", default=None, help="only mutants whose id contains one of these (comma)")
    group.addoption(
        "--iu-mutants-covered",
        action="store_true",
        help="sample only mutants of functions the collected proofs call (a run over part of the proofs)",
    )
    group.addoption("--iu-mutants-shard", default="0/1", help="i/n: run every n-th mutant from the i-th")
    group.addoption("--iu-mutants-coverage", default=None, help="coverage map file: read if present, else written")
    group.addoption(
        "--iu-mutants-max-proofs",
        type=int,
        default=MUTANT_PROOFS_MAX,
        help=f"run a mutant against at most this many of the proofs reaching it (default {MUTANT_PROOFS_MAX}, 0: all)",
    )
    group.addoption(
        "--iu-mutants-registry",
        default=None,
        help="run these registered sabotages (a JSON list of ids) in-process instead of generated mutants",
    )


def _state(config: pytest.Config):
    from iu_prove.plugin import STATE

    return config.stash[STATE]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None:
        raise pytest.UsageError("mutant runs are serial: add -p no:xdist (or -n 0)")
    base = settings.get_profile(settings.get_current_profile_name())
    # a killed mutant is not shrunk (the first failing example is enough), and each
    # Hypothesis proof tries its explicit examples and MUTANT_EXAMPLES generated ones
    settings.register_profile(
        "iu-mutants",
        parent=base,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        database=None,
        derandomize=True,  # the coverage run and every mutant run try the same examples
        max_examples=min(base.max_examples, MUTANT_EXAMPLES),
    )
    settings.load_profile("iu-mutants")
    _state(config).timeouts["statement_timeout"] = MUTANT_STATEMENT_TIMEOUT
    # every session of the run and the psql it starts count function calls (the coverage map)
    os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c track_functions=all").strip()
    config.stash[RUN] = MutantRun(config)


RUN = pytest.StashKey["MutantRun"]()


@pytest.fixture(autouse=True)
def _iu_mutants_probe(request: pytest.FixtureRequest):
    """Remembers the worker's clone and makes the proof's session flush its function stats."""
    run = request.config.stash[RUN]
    yield
    if "proof_dsn" in request.fixturenames and run.proof_dsn is None:
        run.proof_dsn = request.getfixturevalue("proof_dsn")
    if "db_connection" in request.fixturenames:
        holder = request.getfixturevalue("db_connection")
        run.holder = holder
        if run.measuring:
            conn = holder.get()
            conn.rollback()
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.rollback()  # the backend flushes as it goes idle


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    if session.testsfailed or session.config.option.collectonly:
        return None
    ids = session.config.getoption("iu_mutants_registry")
    if ids:
        from iu_prove.mutants import registry

        registry.execute(session.config.stash[RUN], session, ids, session.config.getoption("iu_mutants_out"))
    else:
        session.config.stash[RUN].execute(session)
    return True


def call_graph(functions: list[generate.Function]) -> dict[int, set[int]]:
    """Function → the functions its body names."""
    return {
        f.oid: {g.oid for g in functions if g.oid != f.oid and re.search(rf"\b{re.escape(g.name)}\b", f.source, re.I)}
        for f in functions
    }


def _named(item: pytest.Item, functions: list[generate.Function], graph: dict[int, set[int]]) -> set[int]:
    """Functions a proof names in its module, its package's helpers or the ops scripts
    they run, and every function those call: a function that raises is not counted
    by ``pg_stat_user_functions``, so refusal proofs would otherwise cover nothing."""
    module = Path(str(item.path))
    texts = [module.read_text()] + [p.read_text() for p in sorted(module.parent.glob("_*.py"))]
    for script in sorted(paths.OPS.rglob("*.sql")):
        if any(script.name in t for t in texts):
            texts.append(script.read_text())
    text = "\n".join(texts)
    todo = [f.oid for f in functions if re.search(rf"\b{re.escape(f.name)}\b", text, re.I)]
    found: set[int] = set()
    while todo:
        oid = todo.pop()
        if oid not in found:
            found.add(oid)
            todo.extend(graph.get(oid, ()))
    return found


class Reach:
    """Which proofs reach a mutant: those whose run fired the probe of its statement (or of
    its nearest probed ancestor); for a function without probes, or a mutant outside any
    statement, those that called the function (``pg_stat_user_functions``, or named by the
    proof's module, helpers and scripts: see :func:`_named`)."""

    def __init__(self, functions: list[generate.Function], cov: dict, by_id: dict[str, pytest.Item]):
        self.probed = {int(oid): set(ks) for oid, ks in cov.get("probed", {}).items()}
        self.shapes = {}
        for f in functions:
            if f.oid in self.probed:
                try:
                    self.shapes[f.oid] = statements.shape(f.definition, f.source)
                except Exception:  # pglast's errors: function-level coverage
                    self.probed.pop(f.oid)
        graph = call_graph(functions)
        self.calls: dict[int, list[str]] = {}  # oid → proofs that called it (function level)
        self.hits: dict[tuple[int, int], set[str]] = {}  # (oid, statement) → proofs whose run fired its probe
        self.any_hit: dict[int, set[str]] = {}
        self.order = [n for n, _ in sorted(cov["items"].items(), key=lambda kv: kv[1]["seconds"]) if n in by_id]
        for nodeid in self.order:
            entry = cov["items"][nodeid]
            for key in entry.get("statements", []):
                oid, k = (int(x) for x in key.split(":"))
                self.hits.setdefault((oid, k), set()).add(nodeid)
                self.any_hit.setdefault(oid, set()).add(nodeid)
            named = _named(by_id[nodeid], functions, graph)
            for oid in set(entry["functions"]) | {o for o in named if o not in self.probed}:
                self.calls.setdefault(oid, []).append(nodeid)

    def function(self, oid: int) -> list[str]:
        return sorted(set(self.calls.get(oid, [])) | self.any_hit.get(oid, set()))

    def mutant(self, oid: int, statement: int | None) -> list[str]:
        """Covering proofs of a mutant, fastest first."""
        if oid not in self.probed:
            return list(self.calls.get(oid, []))
        shape, rep = self.shapes[oid], statement
        while rep is not None and rep not in self.probed[oid]:
            rep = shape.statements[rep].parent
        hit = self.any_hit.get(oid, set())
        # a proof that called the function with none of its probes firing (a session the
        # log does not show) is counted as reaching every statement
        blind = {n for n in self.calls.get(oid, []) if n not in hit}
        chosen = (hit if rep is None else self.hits.get((oid, rep), set())) | blind
        return [n for n in self.order if n in chosen]


def choose(
    reaching: list[str], limit: int, wins: dict[str, int], seconds: dict[str, float], claim_of: dict[str, str]
) -> list[str]:
    """The proofs a mutant runs against, in order, at most ``limit`` (0: all) of ``reaching``
    (a mutant stops at the first that fails, so the order decides the cost of a kill).

    One proof per claim first, so a mutant meets as many different claims as the limit
    allows rather than many proofs of one claim (the cheapest proofs of a package often
    reach a guard without testing it): the claims that killed this function's earlier
    mutants first (most kills first), then the others, cheapest first; each claim's proof
    is the one that killed most of those mutants, else its fastest. The remaining slots
    go to the remaining proofs, earlier killers first, then the fastest.
    """
    ranked = sorted(reaching, key=lambda n: (-wins.get(n, 0), seconds.get(n, 0.0), n))
    limit = limit or len(ranked)
    claim_wins: dict[str, int] = {}
    firsts: dict[str, str] = {}  # claim → its proof, the first of its proofs in ranked order
    for n in ranked:
        claim = claim_of.get(n) or n
        claim_wins[claim] = claim_wins.get(claim, 0) + wins.get(n, 0)
        firsts.setdefault(claim, n)
    order = sorted(firsts, key=lambda c: (-claim_wins[c], seconds.get(firsts[c], 0.0), c))
    chosen = [firsts[c] for c in order][:limit]
    taken = set(chosen)
    chosen += [n for n in ranked if n not in taken][: limit - len(chosen)]
    return chosen


class _ServerLog:
    """The probes (``iu-cov``) the server wrote to its log since the last read, from the
    databases of this process."""

    def __init__(self, server_dsn: str):
        self.conn = connect(server_dsn, autocommit=True)
        datadir = self.conn.execute("SHOW data_directory").fetchone()[0]
        self.path = str(Path(datadir).parent / "server.log")  # where EmbeddedCluster starts it
        self.suffix = f"_{os.getpid()}".encode()
        self.offset = self._size()

    def _size(self) -> int:
        return self.conn.execute("SELECT (pg_stat_file(%s, true)).size", [self.path]).fetchone()[0] or 0

    def probes(self) -> set[str]:
        size = self._size()
        if size <= self.offset:
            return set()
        data = self.conn.execute(
            "SELECT pg_read_binary_file(%s, %s, %s, true)", [self.path, self.offset, size - self.offset]
        ).fetchone()[0]
        data = bytes(data or b"")
        data = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self.offset += len(data)
        return {f"{int(m[1])}:{int(m[2])}" for m in statements.LOG_RE.finditer(data) if m[3].endswith(self.suffix)}

    def close(self) -> None:
        self.conn.close()


def _progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class MutantRun:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.proof_dsn: str | None = None
        self.holder = None
        self.measuring = False
        self.monitor: psycopg.Connection | None = None
        self.fresh_calls: dict[int, int] = {}
        self.instrumented: dict[int, str] | None = None  # oid → CREATE OR REPLACE of its probed body
        self.probed: dict[int, list[int]] = {}  # oid → statements with a probe
        self.log: _ServerLog | None = None
        self.originals: dict[int, str] = {}

    # -- stats ---------------------------------------------------------------
    def _calls(self, conn: psycopg.Connection, others_than: set[int]) -> dict[int, int]:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # sessions that closed flush their stats as they exit
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND NOT (pid = ANY(%s))",
                [list(others_than)],
            ).fetchone()[0]
            if not busy:
                break
            time.sleep(0.05)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return dict(conn.execute("SELECT funcid, calls FROM pg_stat_user_functions").fetchall())

    def _own_pids(self) -> set[int]:
        pids = {self.monitor.info.backend_pid}
        if self.holder is not None and self.holder._conn is not None and not self.holder._conn.closed:
            pids.add(self.holder._conn.info.backend_pid)
        return pids

    def _wrap_drop(self, tgt) -> None:
        """Read a durable proof's fresh clone's function calls just before it is dropped."""
        original = tgt.drop

        def drop(dbname: str) -> None:
            if self.measuring and dbname.startswith("iu_fresh_"):
                try:
                    with connect(tgt.dsn_for(dbname), autocommit=True) as conn:
                        calls = self._calls(conn, {conn.info.backend_pid})
                    for oid, n in calls.items():
                        self.fresh_calls[oid] = self.fresh_calls.get(oid, 0) + n
                except psycopg.Error:
                    pass
            original(dbname)

        tgt.drop = drop

    def _wrap_clone(self, tgt) -> None:
        """Every database cloned while the coverage map is built gets the probed bodies."""
        original = tgt.clone

        def clone(dbname: str, template: str | None = None) -> str:
            dsn = original(dbname, template)
            if self.measuring:
                self._instrument(dsn)
            return dsn

        tgt.clone = clone

    def _instrument(self, dsn: str) -> None:
        with connect(dsn) as conn:
            if self.instrumented is None:  # the first clone: which bodies take their probes
                self.instrumented = {}
                for fn in generate.load_functions(conn):
                    if fn.language != "plpgsql":
                        continue
                    try:
                        shape = statements.shape(fn.definition, fn.source)
                        sql = fn.replace_sql(statements.instrument(fn.oid, fn.source, shape))
                        with conn.transaction():
                            conn.execute(sql)
                    except (psycopg.Error, ValueError) as exc:  # it keeps function-level coverage
                        _progress(f"iu-mutants: no statement probes in {fn.signature}: {str(exc).splitlines()[0]}")
                        continue
                    self.instrumented[fn.oid] = sql
                    self.probed[fn.oid] = [st.index for st in shape.statements if st.probe_at is not None]
                    self.originals[fn.oid] = fn.definition
            else:
                for sql in self.instrumented.values():
                    conn.execute(sql)
            conn.commit()

    def _restore(self) -> None:
        """The worker's clone gets its functions back as they were before the coverage run."""
        if self.proof_dsn is None or not self.originals:
            return
        with connect(self.proof_dsn) as conn:
            for definition in self.originals.values():
                conn.execute(definition)
            conn.commit()

    # -- running items -------------------------------------------------------
    @staticmethod
    def _run_item(item: pytest.Item, nextitem: pytest.Item) -> tuple[bool, float, str, str]:
        """(passed, seconds, first error line, phase of the first failure)."""
        started = time.monotonic()
        # what the previous run left set up (its module, package) and this item does not share
        item.session._setupstate.teardown_exact(item)
        reports = runtestprotocol(item, log=False, nextitem=nextitem)
        failed = [r for r in reports if r.failed]
        message = when = ""
        if failed:
            text = failed[0].longreprtext.strip().splitlines()
            errors = [line[2:].strip() for line in text if line.startswith("E ")]
            message = ((errors or text or [failed[0].when])[0])[:200]
            when = failed[0].when
        return (not failed, time.monotonic() - started, message, when)

    def _eligible(self, items: list[pytest.Item]) -> tuple[list[pytest.Item], dict[str, str]]:
        keep, left_out = [], {}
        for item in items:
            claim = claims.claim_of(item)
            if claim is None:
                left_out[item.nodeid] = "not a proof"
            elif claim in EXCLUDED_CLAIMS:
                left_out[item.nodeid] = EXCLUDED_CLAIMS[claim]
            elif any(f in item.fixturenames for f in EXCLUDED_FIXTURES):
                left_out[item.nodeid] = next(EXCLUDED_FIXTURES[f] for f in EXCLUDED_FIXTURES if f in item.fixturenames)
            else:
                keep.append(item)
        return keep, left_out

    def _coverage(self, items, nextitems) -> dict:
        path = self.config.getoption("iu_mutants_coverage")
        if path and Path(path).exists():
            return json.loads(Path(path).read_text())
        tgt = _state(self.config).target
        self._wrap_drop(tgt)
        self._wrap_clone(tgt)
        self.log = _ServerLog(tgt.server_dsn)
        cov: dict = {"items": {}, "failed": {}}
        index, count = self._shard()
        items = [item for k, item in enumerate(items) if k % count == index]  # each shard measures its share
        self.measuring = True
        started = time.monotonic()
        before: dict[int, int] | None = None
        for k, item in enumerate(items, start=1):
            self.fresh_calls = {}
            ok, took, message, _ = self._run_item(item, nextitems[item.nodeid])
            if self.proof_dsn and self.monitor is None:
                self.monitor = connect(self.proof_dsn, autocommit=True)
                self.monitor.execute("SET stats_fetch_consistency = none")
            called: set[int] = set(self.fresh_calls)
            if self.monitor is not None:
                now = self._calls(self.monitor, self._own_pids())
                if before is not None:
                    called |= {oid for oid, n in now.items() if n > before.get(oid, 0)}
                else:  # the first proof: everything called so far is its own
                    called |= set(now)
                before = now
            reached = self.log.probes()
            if ok:
                cov["items"][item.nodeid] = {
                    "seconds": round(took, 3),
                    "functions": sorted(called),
                    "statements": sorted(reached),
                }
            else:
                cov["failed"][item.nodeid] = message
            eta = (time.monotonic() - started) / k * (len(items) - k)
            _progress(f"iu-mutants: coverage [{k}/{len(items)}] {item.nodeid} {took:.1f}s — ETA {eta:.0f}s")
        self.measuring = False
        self.log.close()
        self._restore()
        cov["probed"] = {str(oid): sorted(ks) for oid, ks in self.probed.items()}
        if not path:
            return cov
        # each share written whole, then renamed; every shard waits for all of them
        mine = Path(f"{path}.{index}of{count}")
        Path(f"{mine}.tmp").write_text(json.dumps(cov))
        Path(f"{mine}.tmp").rename(mine)
        parts = [Path(f"{path}.{i}of{count}") for i in range(count)]
        deadline = time.monotonic() + COVERAGE_WAIT_S
        while not all(p.exists() for p in parts):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the other shards' coverage did not arrive in {COVERAGE_WAIT_S} s")
            time.sleep(0.5)
        merged: dict = {"items": {}, "failed": {}, "probed": {}}
        for part in parts:
            doc = json.loads(part.read_text())
            for key in merged:
                merged[key].update(doc[key])
        if index == 0:
            Path(path + ".tmp").write_text(json.dumps(merged))
            Path(path + ".tmp").rename(path)
        return merged

    def _shard(self) -> tuple[int, int]:
        index, count = (int(x) for x in self.config.getoption("iu_mutants_shard").split("/"))
        return index, count

    def _select(self, mutants: list[generate.Mutant], covered: set[str]) -> list[generate.Mutant]:
        if self.config.getoption("iu_mutants_covered"):
            mutants = [m for m in mutants if m.function in covered]
        only = self.config.getoption("iu_mutants_only")
        sample = self.config.getoption("iu_mutants_sample")
        chosen = list(mutants)
        if sample:
            # the mutants whose seeded digest is smallest: a mutant added or no longer generated
            # elsewhere leaves the rest of the sample as it was
            seed = self.config.getoption("iu_mutants_seed")
            chosen = sorted(chosen, key=lambda m: hashlib.sha1(f"{seed}:{m.id}".encode()).hexdigest())[:sample]
        if only:
            wanted = [w.strip() for w in only.split(",") if w.strip()]
            named = [m for m in mutants if any(w in m.id for w in wanted)]
            chosen = named if not sample else chosen + [m for m in named if m not in chosen]
        index, count = self._shard()
        return [m for k, m in enumerate(chosen) if k % count == index]

    def execute(self, session: pytest.Session) -> None:
        started = time.monotonic()
        items, left_out = self._eligible(session.items)
        if len(session.items) < 2:
            raise pytest.UsageError("a mutant run needs at least two collected proofs")
        nextitems = {}
        for item in items:  # a sibling keeps module and session fixtures alive between runs
            sibling = next((o for o in session.items if o is not item and o.parent is item.parent), None)
            nextitems[item.nodeid] = sibling or next(o for o in session.items if o is not item)
        cov = self._coverage(items, nextitems)
        coverage_s = time.monotonic() - started
        by_id = {i.nodeid: i for i in items}
        if self.proof_dsn is None:
            self.proof_dsn = _state(self.config).target.clone(f"iu_mutants_{id(self)}")
        if self.monitor is None:
            self.monitor = connect(self.proof_dsn, autocommit=True)
        with connect(self.proof_dsn) as conn:
            functions, mutants = generate.generate(conn)
            generate.check_compiles(conn, mutants)
        fn_by_sig = {f.signature: f for f in functions}
        reach = Reach(functions, cov, by_id)
        selected = self._select(mutants, {f.signature for f in functions if reach.function(f.oid)})
        runnable = [m for m in selected if m.compiles]
        seconds = {nodeid: entry["seconds"] for nodeid, entry in cov["items"].items()}
        claim_by_id = {nodeid: claims.claim_of(item) for nodeid, item in by_id.items()}
        killers: dict[int, dict[str, int]] = {}
        max_proofs = self.config.getoption("iu_mutants_max_proofs")
        results = []
        state = _state(self.config)
        mstarted = time.monotonic()
        for k, m in enumerate(runnable, start=1):
            fn = fn_by_sig[m.function]
            wins = killers.setdefault(fn.oid, {})
            reaching = reach.mutant(fn.oid, m.statement)
            proofs = choose(reaching, max_proofs, wins, seconds, claim_by_id)
            t0 = time.monotonic()
            killer, message, ran, harness = None, "", 0, []
            if proofs:
                sab = Sabotage(m.id, (), "transaction", m.diff, m.sql, "generated")
                state.sabotage = sab
                self.monitor.execute(m.sql)
                try:
                    for nodeid in proofs:
                        ran += 1
                        ok, _, message, when = self._run_item(by_id[nodeid], nextitems[nodeid])
                        if not ok and when != "call":
                            # failed outside the proof's body: a kill only if it passes without the mutant
                            state.sabotage = None
                            self.monitor.execute(fn.definition)
                            clean, _, _, _ = self._run_item(by_id[nodeid], nextitems[nodeid])
                            state.sabotage = sab
                            self.monitor.execute(m.sql)
                            if not clean:
                                harness.append(f"{nodeid}: {message}")
                                continue
                        if not ok:
                            killer = nodeid
                            wins[nodeid] = wins.get(nodeid, 0) + 1
                            break
                finally:
                    state.sabotage = None
                    self.monitor.execute(fn.definition)
            outcome = {
                "id": m.id,
                "killed_by": killer,
                "claim": claims.claim_of(by_id[killer]) if killer else None,
                "message": message if killer else "",
                "proofs_run": ran,
                "covered": bool(proofs),
                "statement": m.statement,
                "proofs_reaching": len(reaching),
                "covering_claims": sorted({claims.claim_of(by_id[n]) for n in reaching}),
                "harness_errors": harness,  # failures that recur without the mutant: never kills
                "seconds": round(time.monotonic() - t0, 3),
            }
            results.append(outcome)
            eta = (time.monotonic() - mstarted) / k * (len(runnable) - k)
            verdict = f"killed by {outcome['claim']}" if killer else ("SURVIVED" if proofs else "not covered")
            _progress(
                f"iu-mutants: [{k}/{len(runnable)}] {m.id}: {verdict} ({ran} of {len(reaching)} proofs)"
                f" — ETA {eta:.0f}s"
            )
        restored = self.monitor.execute(
            "SELECT count(*) FROM pg_proc p JOIN unnest(%s::oid[], %s::text[]) AS f(oid, src) ON f.oid = p.oid "
            "WHERE p.prosrc <> f.src",
            [[f.oid for f in functions], [f.source for f in functions]],
        ).fetchone()[0]
        self.monitor.close()
        out = self.config.getoption("iu_mutants_out")
        doc = {
            "database": dbname_of(self.proof_dsn),
            "functions": [
                {"signature": f.signature, "name": f.name, "migration": f.migration, "oid": f.oid} for f in functions
            ],
            "mutants": [asdict(m) | {"sql": "", "body": ""} for m in selected],
            "results": results,
            "coverage": {
                "proofs": {
                    nodeid: {**entry, "claim": claims.claim_of(by_id[nodeid]) if nodeid in by_id else None}
                    for nodeid, entry in cov["items"].items()
                },
                "failed": cov["failed"],
                "left_out": left_out,
            },
            "seconds": {"coverage": round(coverage_s, 1), "mutants": round(time.monotonic() - mstarted, 1)},
            "functions_not_restored": restored,
        }
        if out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(json.dumps(doc, indent=1) + "\n")
        if restored:
            session.testsfailed += 1
