"""The pytest plugin: options, the run's database target, claim metadata, verdict.

Fixtures live in their own modules (``fix_*.py``), registered below; the run's
state is a :class:`~iu_prove.runstate.RunState` in ``config.stash[STATE]``.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from iu_prove import (
    catalogue,
    claims,
    embedded,
    fix_db,
    isolation,
    notrun,
    packages,
    paths,
    pins,
    profiles,
    reportdiff,
    residue,
    sabotage,
    shard,
    tap,
    target,
)
from iu_prove import config as knobs
from iu_prove.dsn import connect, mask, without_password
from iu_prove.embedded import EmbeddedCluster
from iu_prove.errors import EXIT_SETUP, SetupError
from iu_prove.evidence import ProofFailed
from iu_prove.report import PROP_CLAIM, PROP_FAILURE, PROP_STATEMENT, ReportCollector, refused
from iu_prove.runstate import STATE, RunState

pytest_plugins = ["iu_prove.fix_db", "iu_prove.fix_evidence", "iu_prove.fix_ops"]

TARGET_INPUT = "iu_prove_target"
CATCH_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
_config: pytest.Config | None = None  # for the hooks that are not given it


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--iu-*`` options, each declared once in :mod:`iu_prove.config` with its variable."""
    group = parser.getgroup("iu-prove", "IU core proof suite")
    for knob in knobs.options():
        if knob.flag:
            group.addoption(knob.option, action="store_true", default=knobs.flag(knob.env), help=knob.help)
        else:
            default = knobs.env(knob.env)
            if knob.env in ("IU_PROVE_SABOTAGE_DIR", "IU_PROVE_REPORT_DIR") and default == knob.default:
                default = str(paths.ROOT / default)
            group.addoption(knob.option, default=default, help=f"{knob.help} (env {knob.env})")


# -- workers ------------------------------------------------------------------
# Below this many selected proofs, xdist's start-up costs more than it saves.
SERIAL_BELOW = 40


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (make's default): serial for a small selection or a one-core machine,
    one worker per core (at most 4) otherwise."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    chosen = catalogue.for_args(config.args, Path(str(config.invocation_params.dir)))
    wanted = config.getoption("iu_claims")
    if wanted:
        ids, _ = catalogue.normalise_ids(wanted)
        chosen = {k: v for k, v in chosen.items() if k in ids}
    size = sum(len(c.tests) for c in chosen.values())
    return 0 if cores < 2 or size < SERIAL_BELOW else min(cores, 4)


# -- signals ------------------------------------------------------------------
def _on_signal(signum, frame):
    """The first catchable signal ends the run in order (fixtures torn down, servers
    stopped, report written); later ones, and any that come once the report is written,
    are ignored, so clean-up finishes and the report stays true."""
    state = _config.stash.get(STATE, None) if _config is not None else None
    if state is None or state.signal is not None or state.reported:
        return
    state.signal = signum
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _install_signal_handlers() -> None:
    for sig in CATCH_SIGNALS:
        try:
            signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread
            return


# -- configuration -------------------------------------------------------------
def _refuse(config: pytest.Config, state: RunState, message: str) -> None:
    """One message, exit 2, a report that says REFUSED; no traceback, no duplicate line."""
    if not state.is_worker:
        refused(state.info.report_dir, message, state.info.as_dict())
    state.shutdown()
    pytest.exit(message, returncode=EXIT_SETUP)


@pytest.hookimpl(trylast=True)
def pytest_keyboard_interrupt(excinfo) -> None:
    """A refusal (pytest.exit with our code) was already printed once: drop pytest's repeat."""
    if _config is None or not isinstance(excinfo.value, pytest.exit.Exception):
        return
    if excinfo.value.returncode == EXIT_SETUP or (excinfo.value.returncode or 0) > 128:
        reporter = _config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and hasattr(reporter, "_keyboardinterrupt_memo"):
            reporter._keyboardinterrupt_memo = None


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config
    for line in claims.MARKERS:
        config.addinivalue_line("markers", line)
    state = RunState(config)
    config.stash[STATE] = state
    info = state.info
    info.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    info.report_dir = config.getoption("iu_report_dir")
    for name in isolation.DEFAULT_TIMEOUTS:
        state.timeouts[name] = config.getoption(f"iu_{name}")
    if _needs_database(config):
        _install_signal_handlers()
    if not state.is_worker:
        embedded.claim_run()
        info.git_revision, info.git_dirty = _git_revision()
    try:
        info.hypothesis_profile = profiles.load_from_env(config.getoption("hypothesis_profile", None))
        if config.getoption("iu_sabotage"):
            state.sabotage = sabotage.get(config.getoption("iu_sabotage"), Path(config.getoption("iu_sabotage_dir")))
            info.sabotage = state.sabotage.id
            if state.sabotage.mode == "script" and not state.is_worker:
                _use_sabotaged_ops(state.sabotage)
        if not state.is_worker:
            state.catalogue = catalogue.for_args(config.args, Path(str(config.invocation_params.dir)))
        if config.getoption("iu_claims"):
            state.claims_filter = _claims_filter(config.getoption("iu_claims"), state)
            info.claims_filter = sorted(state.claims_filter, key=claims.sort_key)
        baseline = _configure_shard_and_baseline(config, state)
    except (ValueError, SetupError) as exc:
        _refuse(config, state, f"iu-prove: {exc}")
    if state.is_worker:
        state.target = target.Target.from_json(config.workerinput[TARGET_INPUT])
    else:
        collector = ReportCollector(config, state)
        collector.baseline = baseline
        config.pluginmanager.register(collector, "iu_prove_report")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistBridge(state), "iu_prove_xdist")


def _use_sabotaged_ops(sab: sabotage.Sabotage) -> None:
    """A script sabotage: this run and its workers read ``sql/ops`` from a changed copy
    (removed when the process ends)."""
    paths.OPS = sab.ops_copy()
    atexit.register(shutil.rmtree, paths.OPS.parent, True)
    os.environ[sabotage.OPS_DIR_ENV] = str(paths.OPS)


def _configure_shard_and_baseline(config: pytest.Config, state: RunState) -> dict[str, Any] | None:
    """``--iu-shard``/``--iu-durations`` (the run's shard) and ``--iu-baseline`` (read now, so a bad
    file is refused before anything runs)."""
    found = shard.configure(config, state.catalogue, state.is_worker)
    if found is not None and not state.is_worker:
        state.info.shard = found.name
        state.info.notes.append(found.note())
    path = config.getoption("iu_baseline")
    return reportdiff.load(path) if path and not state.is_worker else None


def _claims_filter(text: str, state: RunState) -> set[str]:
    """``--iu-claims``: well-formed ids of known claims, else a refusal naming the known ones."""
    good, bad = catalogue.normalise_ids(text)
    known = set(state.catalogue)
    unknown = [g for g in good if known and g not in known] + bad
    if unknown or not good:
        listing = ", ".join(sorted(known, key=claims.sort_key)) or "none in the selected paths"
        raise SetupError(
            f"--iu-claims names {', '.join(unknown) or 'no claim'}, which is not a claim of this run; "
            f"known ids: {listing}"
        )
    return set(good)


def _git_revision() -> tuple[str, bool | None]:
    try:
        out = subprocess.run(
            ["git", "-C", str(paths.ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown", None
    rev = out.stdout.strip()
    if not rev:
        return "unknown", None
    return rev.removesuffix("-dirty"), rev.endswith("-dirty")


class _XdistBridge:
    def __init__(self, state: RunState):
        self.state = state

    def pytest_configure_node(self, node) -> None:
        if self.state.target is not None:
            node.workerinput[TARGET_INPUT] = self.state.target.to_json()
        found = shard.of(self.state.config)
        if found is not None:
            node.workerinput[shard.WORKER_INPUT] = found.to_json()

    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        if not self.state.collected:
            self.state.collected = list(ids)

    def pytest_testnodedown(self, node, error) -> None:
        if error and self.state.signal is None and self.state.info.interrupted is None:
            self.state.info.interrupted = f"worker {node.gateway.id} crashed ({str(error).strip()[:200]})"


def _needs_database(config: pytest.Config) -> bool:
    return not (config.option.collectonly or config.option.help or config.option.version)


def _progress(message: str) -> None:
    if knobs.flag("IU_PROVE_VERBOSE"):
        sys.stderr.write(f"iu-prove: {message}\n")


# -- the target -----------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[STATE]
    if state.is_worker or not _needs_database(config):
        return
    atexit.register(state.shutdown)
    leftovers = embedded.sweep_leftovers()
    if leftovers:
        sys.stderr.write(
            f"iu-prove: removed {len(leftovers)} embedded server(s) left by runs that are gone: "
            f"{', '.join(leftovers)}\n"
        )
    started = time.monotonic()
    dsn = config.getoption("iu_dsn")
    attach = knobs.env(target.ATTACH_ENV)
    try:
        if dsn:
            dsn, secret = without_password(dsn)
            if secret:  # workers, psql and pg_dump inherit it; no DSN of the run carries it
                os.environ["PGPASSWORD"] = secret
            state.target = target.from_dsn(dsn, config.getoption("iu_scratch"), progress=_progress)
            where = mask(dsn) + (" (scratch)" if state.target.scratch else "")
            if state.target.scratch and not state.target.clones_allowed:
                state.info.notes.append(state.target.no_clones_reason)
                sys.stderr.write(f"iu-prove: {state.target.no_clones_reason}\n")
        elif attach:
            state.target = target.attached(attach)
            where = f"attached cluster, template {state.target.template}"
        else:
            state.cluster = EmbeddedCluster()
            state.target, how = target.start_embedded(state.cluster, progress=_progress)
            state.info.notes.append(how)
            where = state.cluster.describe()
        if state.sabotage and state.sabotage.mode == "database":
            if not state.target.clones_allowed:
                raise SetupError(f"sabotage {state.sabotage.id} needs a template database (embedded target)")
            target.derive_sabotaged_template(state.target, state.sabotage)
        if state.target.database_dsn:  # a database we do not own: it must end as it began
            t0 = time.monotonic()
            state.residue_before = residue.snapshot(state.target.database_dsn)
            state.info.residue = {"checked": False, "cost_s": round(time.monotonic() - t0, 3)}
        info = state.info
        info.target = f"{state.target.kind}: {where}"
        info.target_kind = state.target.kind
        info.server_version = state.target.server_version
        info.head = state.target.head
        info.setup_s = round(time.monotonic() - started, 2)
        info.pins = _pins_info(state.target)
        if not fix_db.change_capture_on(state.target):
            info.notes.append(
                "change capture off: large tables are read whole at both ends of a proof"
                + (
                    " (a DSN the run does not own: IU_PROVE_CHANGE_CAPTURE=on if nothing else writes to it)"
                    if fix_db.capture_mode() == "auto"
                    else ""
                )
            )
    except SetupError as exc:
        _refuse(config, state, exc.line())
    except KeyboardInterrupt:
        # Interrupted while the target was being built: stop what started, say so, exit 128 + N.
        state.shutdown()
        state.info.interrupted = (
            f"signal {signal.Signals(state.signal).name} while the target was being prepared"
            if state.signal
            else "interrupted while the target was being prepared"
        )
        collector = config.pluginmanager.get_plugin("iu_prove_report")
        doc = collector.write(state.signal) if collector is not None else {"run": {"exit_status": 130}}
        pytest.exit(f"iu-prove: {state.info.interrupted}", returncode=doc["run"]["exit_status"])


def _pins_info(tgt: target.Target) -> dict[str, Any]:
    if tgt.kind == "attached":  # the parent run checks the template's inventory
        return {"head": tgt.head, "note": "attached run: inventory checked by the parent run"}
    dsn = tgt.database_dsn or tgt.dsn_for(tgt.template or "postgres")
    with connect(dsn) as conn:
        live = pins.inventory(conn)
        conn.rollback()
    info: dict[str, Any] = {"head": tgt.head, "counts": pins.counts(live), "inventory": live}
    pinned = pins.load()
    if tgt.head in pinned:
        info["diff"] = pins.diff(pinned[tgt.head], live)
    else:
        info["error"] = f"head {tgt.head} is not pinned in fixtures/pins.toml"
    earlier = sorted(h for h in pinned if tgt.head is not None and h < tgt.head)
    if earlier and tgt.head in pinned:
        info["bump"] = {"from": earlier[-1], "to": tgt.head, "diff": pins.diff(pinned[earlier[-1]], pinned[tgt.head])}
    return info


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None or state.target is None or state.is_worker:
        return []
    info = state.info
    lines = [
        f"iu-prove target: {info.target} — PostgreSQL {info.server_version}, head {info.head}, "
        f"ready in {info.setup_s} s",
        f"iu-prove profile: {info.hypothesis_profile}"
        + (f", sabotage: {info.sabotage}" if info.sabotage else "")
        + (f", claims: {', '.join(info.claims_filter)}" if info.claims_filter else ""),
    ]
    if info.residue is not None:
        lines.append(f"iu-prove residue check: fingerprint taken in {info.residue['cost_s']} s")
    return lines


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With a claim filter, a test file none of whose claims is selected is not even imported."""
    state = config.stash.get(STATE, None)
    if state is None or state.claims_filter is None or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    found = catalogue.scan([collection_path])
    if found and not (set(found) & state.claims_filter):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    this_shard = shard.of(config)
    keep, drop = [], []
    for item in items:
        claim_id = claims.claim_of(item)
        claims.proof_class_of(item)
        in_proofs = paths.ROOT / "proofs" in item.path.parents
        if in_proofs and claim_id is None:
            raise claims.ClaimMarkerError(f"{item.nodeid}: every proof carries @pytest.mark.claim('<id>')")
        if claim_id:
            item.user_properties.append((PROP_CLAIM, claim_id))
            item.user_properties.append((PROP_STATEMENT, claims.statement_of(item)))
        if state.claims_filter is not None and claim_id not in state.claims_filter:
            drop.append(item)
        elif this_shard is not None and not this_shard.owns(claim_id):
            drop.append(item)  # another shard's claim: reported as not run, kind shard
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if not state.is_worker:
        state.collected = [item.nodeid for item in items]


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    tgt = state.target
    needs = required_head(item)
    if tgt is not None and needs is not None and tgt.head is not None and tgt.head < needs:
        notrun.skip("head", f"the database is at migration head {tgt.head}; this proof needs {needs}")
    if tgt is None or tgt.kind != "dsn":
        return
    kind = claims.proof_class_of(item)
    if kind == "intrusive" and not (item.config.getoption("iu_allow_intrusive") or tgt.scratch):
        notrun.skip("target", "intrusive proof (strong locks): a DSN target needs --iu-allow-intrusive or --iu-scratch")
    if kind == "durable" and not tgt.scratch:
        notrun.skip("target", "durable proof (commits): runs on the embedded target or a --iu-scratch database")


def required_head(item: pytest.Item) -> str | None:
    """The migration head a proof needs: its package's (packages.toml), or its own ``head`` marker if later."""
    claim_id = claims.claim_of(item)
    heads = [h for h in (packages.head_of(claim_id) if claim_id else None,) if h]
    marker = item.get_closest_marker("head")
    if marker is not None:
        heads.append(str(marker.args[0]))
    return max(heads) if heads else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and report.failed:
        exc = call.excinfo.value
        if isinstance(exc, ProofFailed):
            text = exc.text()
        elif isinstance(exc, AssertionError):
            text = str(exc).strip() or report.longreprtext.strip()[-1500:]
        else:
            text = f"{type(exc).__name__}: {str(exc).strip()}"
        report.user_properties.append((PROP_FAILURE, text))


# -- the end of the run ---------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Residue check (DSN targets), the verdict, the report and the suite's exit code."""
    state = session.config.stash.get(STATE, None)
    if state is None or state.is_worker or not _needs_database(session.config):
        return
    collector = session.config.pluginmanager.get_plugin("iu_prove_report")
    if collector is None:
        return
    info = state.info
    if state.signal is not None:
        info.interrupted = f"signal {signal.Signals(state.signal).name}"
    elif exitstatus == pytest.ExitCode.INTERRUPTED and info.interrupted is None:
        info.interrupted = "interrupted (KeyboardInterrupt)"
    elif exitstatus == pytest.ExitCode.INTERNAL_ERROR and info.interrupted is None:
        info.interrupted = "internal error of the test runner"
    if state.cluster is not None and state.target is not None and not state.cluster.running():
        info.interrupted = info.interrupted or "the embedded server died during the run"
    if state.residue_before is not None and state.target is not None and info.interrupted is None:
        t0 = time.monotonic()
        changed = residue.differences(state.residue_before, residue.snapshot(state.target.database_dsn))
        cost = round(time.monotonic() - t0 + (info.residue or {}).get("cost_s", 0), 3)
        info.residue = {"checked": True, "differences": changed, "scratch": state.target.scratch, "cost_s": cost}
        if changed:
            sys.stderr.write(
                "iu-prove: the run left residue in the target database:\n"
                + "\n".join(f"  {line}" for line in changed)
                + "\n"
            )
    doc = collector.write(state.signal)
    state.reported = True
    session.exitstatus = doc["run"]["exit_status"]
    if session.config.getoption("iu_tap"):
        tap.write(doc, session.config.getoption("iu_tap"))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    state.shutdown()
    if not state.is_worker:
        embedded.sweep_leftovers(of_run=embedded.run_token())  # servers a killed worker could not stop
