"""Faults: a server crash in the middle of a durable batch leaves no partial
batch; a crashed xdist worker fails the run clearly and the server is still removed."""

import subprocess
import sys
import time

import pytest

from iu_prove import paths, psql
from iu_prove.dsn import connect
from tests import runs

pytestmark = pytest.mark.slow

BIG_N = 8000  # several seconds of work: the crash lands in the middle of it


@pytest.mark.claim("H-5")
@pytest.mark.durable
def test_a_crash_in_the_middle_of_a_durable_batch_leaves_no_partial_batch(private_cluster, evidence):
    """The server killed (immediate) in the middle of a durable scaleout batch: after restart, no row of it."""
    dsn = private_cluster.dsn("iu_private")
    actor = "iu-core-crash-bulk"
    args = [
        psql.psql_binary(),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        dsn,
        "-v",
        f"n={BIG_N}",
        "-v",
        f"bound={BIG_N}",
        "-v",
        f"actor={actor}",
        "-v",
        "live=true",
        "-f",
        str(paths.OPS / "scaleout/run_bounded_scaleout.sql"),
    ]
    batch = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with connect(dsn, autocommit=True) as watcher:  # wait until the batch has written in its transaction
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and batch.poll() is None:
            active = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE '%fn_iu_bounded_scaleout%' AND now() - query_start > interval '1 second'"
            ).fetchone()[0]
            if active:
                break
            time.sleep(0.1)
    evidence.expect("batch still running when the server is killed", have=batch.poll(), want=None)
    private_cluster.kill()
    _, err = batch.communicate(timeout=60)
    evidence.record("psql exit code", batch.returncode)
    evidence.record("psql error", err.strip().splitlines()[-1] if err.strip() else "")
    private_cluster.start()
    with connect(dsn) as conn:
        lineage = conn.execute(
            "SELECT count(*) FROM iu_collection_template_instance_lineage WHERE actor = %s", [actor]
        ).fetchone()[0]
        audit = conn.execute(
            "SELECT count(*) FROM iu_auto_instantiate_event_log WHERE triggered_by = %s", [actor]
        ).fetchone()[0]
        gate = conn.execute("SELECT fn_iu_core_gate('iu_core.auto_instantiate_enabled')").fetchone()[0]
    evidence.expect_true("psql failed", batch.returncode != 0)
    evidence.expect("lineage and audit rows of the crashed batch after restart", have=[lineage, audit], want=[0, 0])
    evidence.expect("orchestrator gate after restart", have=gate, want=False)


@pytest.mark.claim("H-5")
def test_a_crashed_xdist_worker_interrupts_the_run_and_the_server_is_still_removed(tmp_path, evidence):
    """An xdist worker killed mid-run: the run is INTERRUPTED naming the crash, and the embedded server is removed."""
    (tmp_path / "test_crash.py").write_text(
        "import os, signal\n\ndef test_ok():\n    pass\n\ndef test_crash():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = runs.child_env()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_crash.py"),
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            f"--iu-report-dir={tmp_path / 'r'}",
        ],
        capture_output=True,
        text=True,
        cwd=paths.ROOT,
        env=env,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    base = runs.server_base(out)
    evidence.record("exit code", proc.returncode)
    evidence.expect("exit code (3: the run is incomplete)", have=proc.returncode, want=3, rows=out.splitlines()[-8:])
    doc = runs.report(tmp_path / "r") or {}
    evidence.expect("report verdict", have=doc.get("verdict"), want="interrupted")
    evidence.expect_true("the crash is named", "crashed" in str(doc.get("interrupted")), rows=[doc.get("interrupted")])
    evidence.expect("server processes left", have=runs.postgres_processes(base) if base else ["?"], want=[])
