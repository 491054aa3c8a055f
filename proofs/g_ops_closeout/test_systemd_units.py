"""G-4: the healthcheck unit and timer pass `systemd-analyze verify`, the
unit's command with its environment file checks the database, and no file in
the repository enables the timer."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from iu_prove import notrun, paths
from proofs.g_ops_closeout import scan

UNITS = paths.ROOT / "deploy" / "systemd"
SERVICE, TIMER, ENV_EXAMPLE = "iu-healthcheck.service", "iu-healthcheck.timer", "iu-healthcheck.env.example"
INSTALL_ROOT = "/opt/iu-core"  # where the runbook installs the checkout on the host


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def _render(tmp: Path) -> tuple[Path, Path]:
    """Copies of the unit and timer with the install root replaced by this checkout,
    so systemd-analyze finds ExecStart's real binary (.venv/bin/iu-healthcheck)."""
    service = tmp / SERVICE
    service.write_text((UNITS / SERVICE).read_text().replace(INSTALL_ROOT, str(paths.ROOT)))
    timer = tmp / TIMER
    timer.write_text((UNITS / TIMER).read_text().replace(INSTALL_ROOT, str(paths.ROOT)))
    return service, timer


@pytest.mark.claim("G-4")
@pytest.mark.readonly
def test_the_unit_and_timer_pass_systemd_analyze_verify(tmp_path, evidence):
    """The healthcheck unit and timer pass systemd-analyze verify, and the unit runs iu-healthcheck from an env file."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        notrun.skip("environment", "systemd-analyze is not installed (tools/install-system-deps.sh installs it)")
    service, timer = _unit(SERVICE), _unit(TIMER)
    exec_start = service["Service"]["ExecStart"]
    evidence.record("ExecStart (shipped)", exec_start)
    evidence.expect(
        "unit shape (Type, ExecStart, EnvironmentFile, timer Unit, timer WantedBy)",
        have=[
            service["Service"].get("Type"),
            exec_start,
            service["Service"].get("EnvironmentFile"),
            timer["Timer"].get("Unit"),
            timer["Install"].get("WantedBy") if timer.has_section("Install") else None,
        ],
        want=[
            "oneshot",
            f"{INSTALL_ROOT}/.venv/bin/iu-healthcheck",
            "/etc/iu-core/iu-healthcheck.env",
            SERVICE,
            "timers.target",
        ],
    )
    evidence.expect("timer schedule set", have=bool(timer["Timer"].get("OnCalendar")), want=True)
    evidence.expect(
        "service has an [Install] section (only the timer may)",
        have=service.has_section("Install"),
        want=False,
    )
    rendered = _render(tmp_path)
    binary = Path(exec_start.replace(INSTALL_ROOT, str(paths.ROOT)))
    evidence.record("verified copies: ExecStart rendered to", str(binary))
    evidence.expect_true("rendered ExecStart is an executable file", os.access(binary, os.X_OK))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, rendered)], capture_output=True, text=True, timeout=60
    )
    output = (proc.stdout + proc.stderr).strip().splitlines()
    evidence.expect("systemd-analyze verify exit", have=proc.returncode, want=0, rows=output)
    evidence.expect_no_rows("systemd-analyze verify warnings", output)


@pytest.mark.claim("G-4")
@pytest.mark.readonly
def test_the_units_command_with_its_environment_file_checks_the_database(proof_dsn, evidence):
    """The unit's ExecStart, with the variables of its environment file, runs the healthcheck green."""
    service = _unit(SERVICE)
    keys = [
        ln.split("=", 1)[0].strip()
        for ln in (UNITS / ENV_EXAMPLE).read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    evidence.expect("environment file keys", have=keys, want=["IU_HEALTHCHECK_DSN", "IU_HEALTHCHECK_PUSH_URL"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IU_HEALTHCHECK_DSN": proof_dsn,
        "IU_HEALTHCHECK_PUSH_URL": "",
    }
    if os.environ.get("PGPASSWORD"):  # a password DSN's secret: kept out of the DSN by the run
        env["PGPASSWORD"] = os.environ["PGPASSWORD"]
    for line in service["Service"].get("Environment", "").split():
        name, _, value = line.partition("=")
        env[name] = value
    cmd = [*shlex.split(service["Service"]["ExecStart"].replace(INSTALL_ROOT, str(paths.ROOT))), "--json"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    evidence.expect("exit code", have=proc.returncode, want=0, rows=[proc.stdout[-1500:], proc.stderr[-500:]])
    result = json.loads(proc.stdout)
    evidence.record("surfaces", result["green"] + result["red"])
    evidence.expect("status", have=result["status"], want="green")


@pytest.mark.claim("G-4")
@pytest.mark.readonly
def test_no_file_in_the_repository_enables_the_timer(evidence):
    """No file in the repository enables or starts the timer: no .wants link, no enable or start command in code."""
    links = scan.enablement_links()
    evidence.expect_no_rows("unit enablement links (.wants/.requires) in the repository", links)
    files = scan.code_files()
    hits = [h for h in scan.hits(files) if h.rule == "unit-enable"]
    evidence.record("files scanned", len(files))
    evidence.record("runbook blocks scanned (executed by G-6)", len(scan.executed_runbook_blocks()))
    evidence.expect_no_rows("unit enable/start commands in code or executed runbook blocks", [h.row() for h in hits])
