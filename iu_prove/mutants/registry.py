"""The sabotage registry run in-process: one serial pytest session takes many
``transaction``-mode sabotages in turn (``--iu-mutants-registry=<ids file>``).

For each sabotage the session's ``state.sabotage`` is set — every proof
transaction runs its SQL after ``BEGIN``, and a durable proof's fresh clone has
it committed, exactly as in a child run with ``--iu-sabotage`` — and the proofs
of each claim it names re-run (``runtestprotocol``) until one fails. Before
anything runs, each sabotage's SQL is applied once in a rolled-back transaction
of a clone: one that does not apply is an error of the sabotage, never a kill.
A proof that fails outside its body (set-up, tear-down) counts only if it passes
without the sabotage. Module fixtures are torn down between sabotages.

A ``script`` sabotage runs the same way with ``sql/ops`` read from its changed copy
(``paths.OPS`` and ``IU_PROVE_OPS_DIR`` for the processes the proofs start).

Sabotages that cannot run this way — ``database`` mode, or a claim with a proof
on a private cluster or a nested run — are run by :mod:`iu_prove.mutation` in a
child pytest run each, as are the ones that survive here (to confirm with the
run's full Hypothesis profile).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import psycopg
import pytest

from iu_prove import claims, paths
from iu_prove.dsn import connect
from iu_prove.mutants import scripts
from iu_prove.mutants.plugin import _progress, _state
from iu_prove.runstate import database_name
from iu_prove.sabotage import IN_PROCESS_MODES, OPS_DIR_ENV, Sabotage, SabotageError, registry

NEEDS_A_CHILD_RUN = ("private_cluster", "attach_spec")


def in_process(sab: Sabotage, fixtures_by_claim: dict[str, set[str]]) -> bool:
    """Can this sabotage run in a shared session (transaction or script mode, no private cluster
    or nested run)?"""
    if sab.mode not in IN_PROCESS_MODES:
        return False
    return not any(fixtures_by_claim.get(c, set()) & set(NEEDS_A_CHILD_RUN) for c in sab.kills)


def execute(run, session: pytest.Session, ids_file: str, out: str) -> None:
    from iu_prove.mutation import Outcome

    ids = json.loads(Path(ids_file).read_text())
    reg = registry()
    made = scripts.by_id() if any(i.startswith(scripts.PREFIX) for i in ids) else {}
    wanted = [made[i] if i.startswith(scripts.PREFIX) else reg[i] for i in ids]
    state = _state(session.config)
    tgt = state.target
    by_claim: dict[str, list[pytest.Item]] = {}
    for item in session.items:
        cid = claims.claim_of(item)
        if cid:
            by_claim.setdefault(cid, []).append(item)
    fixtures: dict[str, set[str]] = {}
    for cid, items in by_claim.items():
        fixtures[cid] = {f for item in items for f in item.fixturenames}  # type: ignore[attr-defined]
    reach = _ScriptReach(session.items) if made else None
    deferred = [sab.id for sab in wanted if not in_process(sab, fixtures)]
    wanted = [sab for sab in wanted if sab.id not in deferred]
    applies = _check_applies(tgt, wanted)
    outcomes = []
    started = time.monotonic()
    for k, sab in enumerate(wanted, start=1):
        t0 = time.monotonic()
        out_ = Outcome(sab.id, list(sab.kills), sab.mode, sab.description)
        if applies[sab.id]:
            out_.error = f"the sabotage's SQL does not apply: {applies[sab.id]}"
        elif sab.source == scripts.SOURCE:  # a generated script mutant: killed by the first claim that fails
            assert reach is not None
            out_.kills = reach.claims(sab.script)
            if not out_.kills:
                out_.error = "no proof names the script"
            for cid in out_.kills:
                if _claim_fails(run, state, sab, reach.items(cid), session.items):
                    out_.failed_claims = [cid]
                    break
            out_.survivors = [] if out_.failed_claims else list(out_.kills)
        else:
            missing = [c for c in sab.kills if c not in by_claim]
            if missing:
                out_.error = f"no proof carries claim(s) {', '.join(missing)}"
            for cid in sab.kills:
                if cid in by_claim and _claim_fails(run, state, sab, by_claim[cid], session.items):
                    out_.failed_claims.append(cid)
            out_.failed_claims.sort()
            out_.survivors = [c for c in sab.kills if c not in out_.failed_claims]
        out_.duration_s = round(time.monotonic() - t0, 2)
        outcomes.append(out_)
        eta = (time.monotonic() - started) / k * (len(wanted) - k)
        verdict = "killed" if out_.killed else f"SURVIVED ({out_.error or ', '.join(out_.survivors)})"
        _progress(
            f"iu-mutants: registry [{k}/{len(wanted)}] {sab.id}: {verdict} in {out_.duration_s:.1f}s — ETA {eta:.0f}s"
        )
    doc = {"outcomes": [asdict(o) for o in outcomes], "deferred": deferred}
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")


class _ScriptReach:
    """Which claims' proofs run an ops script: those whose module, or a helper module of their
    package, names it or a script that includes it; proofs that need a child run are left out."""

    def __init__(self, items: list[pytest.Item]):
        self.includers = scripts.includers()
        self.texts: dict[Path, str] = {}
        self.by_claim: dict[str, list[pytest.Item]] = {}
        for item in items:
            cid = claims.claim_of(item)
            if not cid or set(item.fixturenames) & set(NEEDS_A_CHILD_RUN):  # type: ignore[attr-defined]
                continue
            self.by_claim.setdefault(cid, []).append(item)

    def _text(self, module: Path) -> str:
        if module not in self.texts:
            helpers = sorted(module.parent.glob("_*.py"))
            self.texts[module] = "\n".join(p.read_text() for p in [module, *helpers])
        return self.texts[module]

    def items(self, cid: str) -> list[pytest.Item]:
        return self.by_claim.get(cid, [])

    def claims(self, script: str) -> list[str]:
        names = self.includers.get(script, {script})
        found = [
            cid
            for cid, items in self.by_claim.items()
            if any(scripts.names_a_script(self._text(Path(str(i.path))), names) for i in items)
        ]
        return sorted(found, key=claims.sort_key)


def _claim_fails(run, state, sab: Sabotage, items: list[pytest.Item], everything: list[pytest.Item]) -> bool:
    """Run the claim's proofs with ``sab`` until one fails; module fixtures torn down after."""
    failed = False
    ops = paths.OPS
    try:
        if sab.mode == "script":  # the proofs, their psql runs and shell blocks read the changed copy
            paths.OPS = sab.ops_copy()
            os.environ[OPS_DIR_ENV] = str(paths.OPS)
        for i, item in enumerate(items):
            last = i == len(items) - 1
            state.sabotage = sab
            ok, _, _, when = run._run_item(item, _next(item, everything, last))
            state.sabotage = None
            if not ok and when != "call":
                clean, _, _, _ = run._run_item(item, _next(item, everything, True))
                if not clean:
                    continue  # it fails without the sabotage too: not a kill
            if not ok:
                if not last:  # the module fixtures this item kept go before the next sabotage
                    item.session._setupstate.teardown_exact(_next(item, everything, True))
                failed = True
                break
    finally:
        state.sabotage = None
        if ops != paths.OPS:
            shutil.rmtree(paths.OPS.parent, ignore_errors=True)
            paths.OPS = ops
            os.environ.pop(OPS_DIR_ENV, None)
    return failed


def _next(item: pytest.Item, everything: list[pytest.Item], leave_module: bool) -> pytest.Item:
    """A sibling (module fixtures kept), or an item of another module (module fixtures torn down)."""
    if not leave_module:
        sibling = next((o for o in everything if o is not item and o.parent is item.parent), None)
        if sibling is not None:
            return sibling
    return next((o for o in everything if o.module is not item.module), item)  # type: ignore[attr-defined]


# every public function's and view's definition: a sabotage that rewrites one from its definition must change it
FUNCTION_SOURCES = """
SELECT md5((SELECT string_agg(pg_get_functiondef(p.oid), ',' ORDER BY p.oid)
              FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p'))
           || (SELECT coalesce(string_agg(pg_get_viewdef(c.oid), ',' ORDER BY c.oid), '')
                 FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'))
"""
REWRITES = ("pg_get_functiondef", "pg_get_viewdef")


def _check_applies(tgt, wanted: list[Sabotage]) -> dict[str, str]:
    """Sabotage id → '' when its SQL applies in a rolled-back transaction of a clone, else the
    error; one that rewrites a function or view from its definition (``pg_get_functiondef``,
    ``pg_get_viewdef``) but leaves every one as it was — a replaced text no longer there — is
    an error too."""
    name = database_name("regcheck")
    dsn = tgt.clone(name)
    found = {}
    try:
        with connect(dsn) as conn:
            for sab in wanted:
                if sab.mode == "script":  # its text must be found once in the scripts
                    try:
                        shutil.rmtree(sab.ops_copy().parent)
                        found[sab.id] = ""
                    except SabotageError as exc:
                        found[sab.id] = str(exc)
                    continue
                try:
                    with conn.transaction(force_rollback=True):
                        before = conn.execute(FUNCTION_SOURCES).fetchone()[0]
                        conn.execute(sab.sql)
                        unchanged = conn.execute(FUNCTION_SOURCES).fetchone()[0] == before
                    rewrites = any(r in sab.sql for r in REWRITES)
                    found[sab.id] = (
                        "it rewrites a function or view but changes none (text not found)"
                        if rewrites and unchanged
                        else ""
                    )
                except psycopg.Error as exc:
                    found[sab.id] = str(exc).splitlines()[0][:200]
    finally:
        tgt.drop(name)
    return found
