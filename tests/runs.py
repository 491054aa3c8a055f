"""Helpers for the suite's tests that start whole runs as child processes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from iu_prove import nested, paths

SERVER_LINE = re.compile(r"embedded PostgreSQL on socket (?P<sock>\S+)/sock port (?P<port>\d+)")


def server_base(output: str) -> str | None:
    """The embedded cluster's folder named in a run's header, if any."""
    match = SERVER_LINE.search(output)
    return match["sock"] if match else None


def postgres_processes(base: str) -> list[str]:
    """Server processes whose command line names this cluster folder."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if base in line and "postgres" in line]


def clusters_of_run(pid: int) -> list[str]:
    """Cluster folders (alive or not) whose owning run is the process ``pid``."""
    found = []
    for folder in Path("/tmp").glob("iu-prove-pg-*"):
        try:
            owner = (folder / "owner").read_text().splitlines()
        except OSError:
            continue
        if len(owner) > 1 and owner[1].split()[0] == str(pid):
            found.append(str(folder))
    return found


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh top-level run (its own cluster, its own profile choice)."""
    return nested.child_environment(keep_profile=False, **extra)


def report(report_dir: Path) -> dict | None:
    path = Path(report_dir) / "proof-report.json"
    return json.loads(path.read_text()) if path.exists() else None


ROOT = paths.ROOT
