"""The pytest plugin: options, the run's database target, claim metadata, report.

Fixtures live in their own modules (``fix_*.py``), registered below.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from iu_prove import claims, isolation, paths, pins, profiles, residue, sabotage, target
from iu_prove.dsn import TargetUnavailable, connect, mask
from iu_prove.embedded import EmbeddedCluster, EmbeddedClusterError
from iu_prove.evidence import ProofFailed
from iu_prove.migrations import MigrationError
from iu_prove.pgbin import ServerBinariesNotFound
from iu_prove.preflight import PreflightFailed
from iu_prove.report import PROP_CLAIM, PROP_FAILURE, PROP_STATEMENT, ReportCollector
from iu_prove.seed import SeedError

pytest_plugins = ["iu_prove.fix_db", "iu_prove.fix_evidence", "iu_prove.fix_ops"]

STATE = pytest.StashKey["RunState"]()
TARGET_INPUT = "iu_prove_target"


class RunState:
    """Per-process state of one run."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.cluster: EmbeddedCluster | None = None
        self.target: target.Target | None = None
        self.sabotage: sabotage.Sabotage | None = None
        self.claims_filter: set[str] | None = None
        self.timeouts = dict(isolation.DEFAULT_TIMEOUTS)
        self.run_info: dict[str, Any] = {}
        self.residue_before: residue.Snapshot | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def shutdown(self) -> None:
        tgt, cluster = self.target, self.cluster
        self.cluster = None
        if tgt is not None and cluster is None and tgt.owned_templates:
            for name in tgt.owned_templates:
                with contextlib.suppress(Exception):
                    tgt.janitor(name, as_template=True).drop()
            tgt.owned_templates.clear()
        if cluster is not None:
            cluster.remove()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iu-prove", "IU core proof suite")
    group.addoption(
        "--iu-dsn",
        default=os.environ.get("IU_PROVE_DSN"),
        help="prove against this existing database (env IU_PROVE_DSN); default: embedded PostgreSQL",
    )
    group.addoption(
        "--iu-scratch",
        action="store_true",
        default=_env_flag("IU_PROVE_SCRATCH"),
        help="the --iu-dsn database is disposable: migrate it, load fixtures, allow committing proofs",
    )
    group.addoption(
        "--iu-allow-intrusive",
        action="store_true",
        default=_env_flag("IU_PROVE_ALLOW_INTRUSIVE"),
        help="on a DSN target, also run proofs that take strong locks (transactional DDL)",
    )
    group.addoption(
        "--iu-sabotage",
        default=os.environ.get("IU_PROVE_SABOTAGE"),
        help="apply this registered sabotage (see fixtures/sabotages) to every proof",
    )
    group.addoption(
        "--iu-sabotage-dir",
        default=os.environ.get("IU_PROVE_SABOTAGE_DIR", str(paths.SABOTAGES)),
        help="where the sabotage registry is read from (default fixtures/sabotages)",
    )
    group.addoption(
        "--iu-claims",
        default=os.environ.get("IU_PROVE_CLAIMS"),
        help="comma-separated claim ids to run (others are deselected)",
    )
    group.addoption(
        "--iu-report-dir",
        default=os.environ.get("IU_PROVE_REPORT_DIR", str(paths.REPORTS)),
        help="where proof-report.{md,json} are written",
    )
    for name, default in isolation.DEFAULT_TIMEOUTS.items():
        group.addoption(
            f"--iu-{name.replace('_', '-')}",
            default=default,
            help=f"{name} set in every proof transaction (default {default})",
        )


def pytest_configure(config: pytest.Config) -> None:
    for line in claims.MARKERS:
        config.addinivalue_line("markers", line)
    state = RunState(config)
    config.stash[STATE] = state
    for name in isolation.DEFAULT_TIMEOUTS:
        state.timeouts[name] = config.getoption(f"iu_{name}")
    if config.getoption("iu_claims"):
        state.claims_filter = {c.strip() for c in config.getoption("iu_claims").split(",") if c.strip()}
    try:
        profile = profiles.load_from_env(config.getoption("hypothesis_profile", None))
        if config.getoption("iu_sabotage"):
            state.sabotage = sabotage.get(config.getoption("iu_sabotage"), Path(config.getoption("iu_sabotage_dir")))
    except (ValueError, sabotage.SabotageError) as exc:
        raise pytest.UsageError(str(exc)) from None
    state.run_info.update(
        {
            "hypothesis_profile": profile,
            "git_revision": _git_revision(),
            "sabotage": state.sabotage.id if state.sabotage else None,
            "report_dir": config.getoption("iu_report_dir"),
        }
    )
    if state.is_worker:
        state.target = target.Target.from_json(config.workerinput[TARGET_INPUT])
    else:
        config.pluginmanager.register(ReportCollector(config, state.run_info), "iu_prove_report")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistBridge(state), "iu_prove_xdist")


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(paths.ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


class _XdistBridge:
    def __init__(self, state: RunState):
        self.state = state

    def pytest_configure_node(self, node) -> None:
        if self.state.target is not None:
            node.workerinput[TARGET_INPUT] = self.state.target.to_json()


def _needs_database(config: pytest.Config) -> bool:
    return not (config.option.collectonly or config.option.help or config.option.version)


def _progress(message: str) -> None:
    if os.environ.get("IU_PROVE_VERBOSE"):
        sys.stderr.write(f"iu-prove: {message}\n")


def _stop_on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[STATE]
    if state.is_worker or not _needs_database(config):
        return
    atexit.register(state.shutdown)
    try:
        signal.signal(signal.SIGTERM, _stop_on_signal)
        signal.signal(signal.SIGHUP, _stop_on_signal)
    except ValueError:  # not the main thread
        pass
    started = time.monotonic()
    dsn = config.getoption("iu_dsn")
    attach = os.environ.get(target.ATTACH_ENV)
    try:
        if dsn:
            state.target = target.from_dsn(dsn, config.getoption("iu_scratch"), progress=_progress)
            where = mask(dsn) + (" (scratch)" if state.target.scratch else "")
        elif attach:
            state.target = target.attached(attach)
            where = f"attached cluster, template {state.target.template}"
        else:
            state.cluster = EmbeddedCluster()
            state.cluster.init()
            state.cluster.start()
            state.target = target.embedded(state.cluster, progress=_progress)
            where = f"embedded PostgreSQL on 127.0.0.1:{state.cluster.port}"
        if state.sabotage and state.sabotage.mode == "database":
            if not state.target.clones_allowed:
                raise PreflightFailed(f"sabotage {state.sabotage.id} needs a template database (embedded target)")
            target.derive_sabotaged_template(state.target, state.sabotage)
    except (
        TargetUnavailable,
        PreflightFailed,
        EmbeddedClusterError,
        ServerBinariesNotFound,
        MigrationError,
        SeedError,
    ) as exc:
        state.shutdown()
        pytest.exit(str(exc), returncode=2)
    if state.target.database_dsn:  # a database we do not own: it must end as it began
        state.residue_before = residue.snapshot(state.target.database_dsn)
    state.run_info.update(
        {
            "target": f"{state.target.kind}: {where}",
            "target_kind": state.target.kind,
            "server_version": state.target.server_version,
            "head": state.target.head,
            "setup_s": round(time.monotonic() - started, 2),
            "pins": _pins_info(state.target),
        }
    )


def _pins_info(tgt: target.Target) -> dict[str, Any]:
    if tgt.kind == "attached":  # the parent run checks the template's inventory
        return {"head": tgt.head, "note": "attached run: inventory checked by the parent run", "bumps": []}
    dsn = tgt.database_dsn or tgt.dsn_for(tgt.template or "postgres")
    with connect(dsn) as conn:
        live = pins.inventory(conn)
        conn.rollback()
    info: dict[str, Any] = {"head": tgt.head, "counts": pins.counts(live)}
    pinned = pins.load()
    if tgt.head in pinned:
        info["diff"] = pins.diff(pinned[tgt.head], live)
    else:
        info["error"] = f"head {tgt.head} is not pinned in fixtures/pins.toml"
    heads = sorted(h for h in pinned if tgt.head is None or h <= tgt.head)
    info["bumps"] = [
        {"from": a, "to": b, "diff": pins.diff(pinned[a], pinned[b])} for a, b in itertools.pairwise(heads)
    ]
    return info


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None or state.target is None or state.is_worker:
        return []
    info = state.run_info
    return [
        f"iu-prove target: {info.get('target')} — PostgreSQL {info.get('server_version')}, "
        f"head {info.get('head')}, ready in {info.get('setup_s')} s",
        f"iu-prove profile: {info.get('hypothesis_profile')}"
        + (f", sabotage: {info.get('sabotage')}" if info.get("sabotage") else ""),
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
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
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    tgt = state.target
    needs = item.get_closest_marker("head")
    if tgt is not None and needs is not None and tgt.head is not None and tgt.head < str(needs.args[0]):
        pytest.skip(f"the database is at migration head {tgt.head}; this proof needs {needs.args[0]}")
    if tgt is None or tgt.kind != "dsn":
        return
    kind = claims.proof_class_of(item)
    if kind == "intrusive" and not item.config.getoption("iu_allow_intrusive"):
        pytest.skip("intrusive proof (strong locks) not run on a DSN target without --iu-allow-intrusive")
    if kind == "durable" and not tgt.scratch:
        pytest.skip("durable proof (commits) runs only on the embedded target or a --iu-scratch database")


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


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Compare the DSN target's fingerprint with the one taken at the start (H-1)."""
    state = session.config.stash.get(STATE, None)
    if state is None or state.is_worker or state.residue_before is None or state.target is None:
        return
    changed = residue.differences(state.residue_before, residue.snapshot(state.target.database_dsn))
    state.run_info["residue"] = {"checked": True, "differences": changed, "scratch": state.target.scratch}
    if changed and not state.target.scratch:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        sys.stderr.write(
            "iu-prove: the run left residue in the target database:\n"
            + "\n".join(f"  {line}" for line in changed)
            + "\n"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and not state.is_worker:
        state.shutdown()
