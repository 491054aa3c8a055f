"""The embedded target: built from the installed binaries, run as the right OS
user, one per run, always removed (also on Ctrl-C)."""

import os
import pwd
import re
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from iu_prove import paths, pgbin
from iu_prove.embedded import EmbeddedCluster
from tests import runs


def test_the_server_binaries_are_found_without_hard_coding_a_version():
    bindir = pgbin.find_bindir()
    assert all((bindir / name).exists() for name in pgbin.SERVER_BINARIES)


def test_a_bad_bindir_override_is_named_in_the_error(monkeypatch, tmp_path):
    monkeypatch.setenv("IU_PROVE_PG_BINDIR", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(pgbin.glob, "glob", lambda pattern: [])
    with pytest.raises(pgbin.ServerBinariesNotFound, match=re.escape(str(tmp_path))):
        pgbin.find_bindir()


def test_the_cluster_runs_as_postgres_when_root_and_is_removed_afterwards():
    with EmbeddedCluster() as cluster:
        owner = pwd.getpwuid(cluster.datadir.stat().st_uid).pw_name
        expected = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        assert owner == expected
        with psycopg.connect(cluster.dsn()) as conn:
            assert conn.execute("SHOW fsync").fetchone()[0] == "off"
        base = cluster.base
    assert not base.exists()


@pytest.mark.slow
def test_ctrl_c_stops_and_removes_the_server_and_says_interrupted(tmp_path):
    """Ctrl-C (SIGINT to the run's process group) mid-proof: INTERRUPTED, exit 130, the server gone."""
    (tmp_path / "test_sleep.py").write_text(
        "import time\nimport pytest\n\n"
        "@pytest.mark.claim('S-1')\ndef test_quick():\n    pass\n\n"
        "@pytest.mark.claim('S-2')\ndef test_sleep():\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_sleep.py"),
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            f"--iu-report-dir={tmp_path / 'r'}",
            "-s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=paths.ROOT,
        env=runs.child_env(PYTHONUNBUFFERED="1"),
        start_new_session=True,
    )
    base = None
    for line in proc.stdout:  # the header names the server once it is up
        base = runs.server_base(line)
        if base:
            break
    assert base is not None, "the child run did not report its embedded server"
    time.sleep(1.5)  # into the sleeping test
    assert runs.postgres_processes(base)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, _ = proc.communicate(timeout=60)
    for _ in range(50):
        if not runs.postgres_processes(base):
            break
        time.sleep(0.2)
    assert not runs.postgres_processes(base), f"the embedded server in {base} survived the interrupt"
    assert proc.returncode == 130, out[-1000:]
    doc = runs.report(tmp_path / "r")
    assert doc["verdict"] == "interrupted"
    verdicts = {c["id"]: c["verdict"] for c in doc["claims"]}
    assert verdicts["S-1"] == "proven" and verdicts["S-2"] == "not_run"
