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


def _postgres_on_port(port: int) -> bool:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return any(f"-p {port}" in line and "postgres" in line for line in out.splitlines())


@pytest.mark.slow
def test_an_interrupted_run_still_stops_and_removes_its_server(tmp_path):
    (tmp_path / "test_sleep.py").write_text("import time\n\ndef test_sleep():\n    time.sleep(60)\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("IU_PROVE_ATTACH", None)
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
        env=env,
    )
    port = None
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # the header names the port once the server is up
        match = re.search(r"embedded PostgreSQL on 127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
            break
        if time.monotonic() > deadline:
            break
    assert port is not None, "the child run did not report its embedded server"
    time.sleep(1.5)  # into the sleeping test
    assert _postgres_on_port(port)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    for _ in range(50):
        if not _postgres_on_port(port):
            break
        time.sleep(0.2)
    assert not _postgres_on_port(port), f"the embedded server on port {port} survived the interrupt"
