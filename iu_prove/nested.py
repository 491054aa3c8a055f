"""Run the proofs again in a child pytest process (mutation runs, suite tests),
attached to an already running cluster so no child builds its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iu_prove import paths, profiles
from iu_prove.target import ATTACH_ENV, Target


@dataclass
class NestedRun:
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def verdicts(self) -> dict[str, str]:
        return {c["id"]: c["verdict"] for c in (self.report or {}).get("claims", [])}


def attach_spec(server_dsn: str, template: str, head: str | None = None, server_version: str = "") -> str:
    """The attach spec of a cluster and template (a child run's :class:`~iu_prove.target.Target`)."""
    tgt = Target(kind="embedded", server_dsn=server_dsn, template=template, head=head, server_version=server_version)
    return tgt.for_children().to_json()


# Variables of this run that must not leak into a child run: xdist's worker identity,
# the target, the cluster owner (a child is a run of its own) and make's job server.
_NOT_INHERITED = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "IU_PROVE_DSN", ATTACH_ENV, "IU_PROVE_RUN_OWNER")
_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def child_environment(*, attach: str | None = None, keep_profile: bool = True, **extra: str) -> dict[str, str]:
    """The environment of a child run: attached to ``attach`` if given; with this run's
    Hypothesis profile unless ``keep_profile`` is false (a child ``make`` then picks its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED) and k not in _MAKE}
    if keep_profile:
        env[profiles.PROFILE_ENV] = profiles.active()
    else:
        env.pop(profiles.PROFILE_ENV, None)
    if attach:
        env[ATTACH_ENV] = attach
    env.update(extra)
    return env


def run(
    args: list[str],
    *,
    report_dir: Path,
    attach: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 1200,
    cwd: Path = paths.ROOT,
) -> NestedRun:
    """``python -m pytest ARGS`` writing its report to ``report_dir``."""
    child_env = child_environment(attach=attach)
    child_env.update(env or {})
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--iu-report-dir={report_dir}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env, cwd=cwd)
    report_path = report_dir / "proof-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return NestedRun(proc.returncode, proc.stdout, proc.stderr, report)
