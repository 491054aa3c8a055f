"""Every way a run ends leaves nothing behind: SIGTERM while the template is
built, in the middle of the proofs (sent to ``make``), during a proof that runs
a private cluster in an xdist worker, and a dead run's leftovers swept by the
next run. Each interrupted run says INTERRUPTED and exits 128 + the signal."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from iu_prove import catalogue, embedded
from tests import runs

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-5")]


LABEL = f"signals-{os.getpid()}"


def _folders() -> set[str]:
    """Cluster folders of the runs this module starts (found by their label)."""
    found = set()
    for p in Path("/tmp").glob("iu-prove-pg-*"):
        try:
            if LABEL in (p / "owner").read_text().split("\n")[2:]:
                found.add(str(p))
        except OSError:
            continue
    return found


def _start(cmd: list[str], tmp_path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=runs.ROOT,
        env=runs.child_env(PYTHONUNBUFFERED="1", IU_PROVE_RUN_LABEL=LABEL, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a signal to the run must not reach this test's own process group
    )


def _wait_for(predicate, timeout: float = 120, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


class Watch:
    """Every cluster folder a run creates, seen while it runs (even if removed soon after)."""

    def __init__(self):
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self):
        while not self._stop.is_set():
            self.seen |= _folders()
            time.sleep(0.05)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        self.seen |= _folders()
        return sorted(self.seen)


def _nothing_left(watch: Watch, evidence, proc_output: str) -> None:
    """No folder of the run left and no server process naming one, 10 s at most after the end."""
    seen = watch.stop()

    def gone():
        return not any(runs.postgres_processes(f) for f in seen) and not _folders()

    _wait_for(gone, timeout=10, step=0.2)
    evidence.record("cluster folders the run created", len(seen))
    evidence.expect_true("the run created a cluster", seen)
    evidence.expect("server processes of the run", have=[p for f in seen for p in runs.postgres_processes(f)], want=[])
    evidence.expect("cluster folders of the run", have=sorted(_folders()), want=[], rows=[proc_output[-800:]])


def _pytest(tmp_path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--iu-report-dir={tmp_path / 'r'}", *args]


def test_sigterm_while_the_template_is_built_leaves_nothing_and_says_interrupted(tmp_path, evidence):
    """SIGTERM while migrations are applied to the template: nothing left, report INTERRUPTED, exit 143."""
    watch = Watch()
    cmd = _pytest(tmp_path, "proofs", "-p", "no:xdist", "--iu-claims", "S-1")
    # no template cache (the template is built, not copied) and progress lines to time the signal by
    proc = _start(cmd, tmp_path, IU_PROVE_NO_CACHE="1", IU_PROVE_VERBOSE="1")
    seen = ""
    migrating = None
    for line in proc.stdout:
        seen += line
        migrating = re.search(r"applying (0[1-9]\d_\S+\.sql)", line)
        if migrating:  # migration 010 or later is being applied to the template
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    out = seen + rest
    evidence.record("signal sent while", migrating.group(0) if migrating else None)
    evidence.expect_true("a migration was being applied", migrating, rows=out.splitlines()[-6:])
    evidence.expect_true("a cluster folder appeared", watch.seen)
    evidence.expect("exit", have=proc.returncode, want=128 + signal.SIGTERM, rows=out.splitlines()[-6:])
    doc = runs.report(tmp_path / "r") or {}
    evidence.expect("report verdict", have=doc.get("verdict"), want="interrupted")
    _nothing_left(watch, evidence, out)


def test_sigterm_to_make_mid_proofs_leaves_nothing_and_lists_what_ran(tmp_path, evidence):
    """SIGTERM to `make prove` once a claim has finished: report INTERRUPTED with what ran, no server alive after."""
    watch = Watch()
    proc = _start(["make", "-s", "prove", f"REPORTS={tmp_path / 'r'}", "WORKERS=2", "PYTEST_ARGS=-v"], tmp_path)
    expected = {c.id: {t.rsplit("/", 1)[-1] for t in c.tests} for c in catalogue.for_args(["proofs"]).values()}
    passed: set[str] = set()
    seen = ""
    finished = None
    for line in proc.stdout:  # -v: one "PASSED path::test" line per test; stop once a whole claim has passed
        seen += line
        match = re.search(r"PASSED (\S+?)(?:\[.*\])?\s*$", line)
        if match:
            passed.add(match.group(1).rsplit("/", 1)[-1])
            finished = next((cid for cid, tests in expected.items() if tests and tests <= passed), None)
            if finished:
                break
    evidence.record("claim finished before the signal", finished)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    out = seen + rest
    # make passes SIGTERM on to the suite, waits for it, then dies of the same signal
    evidence.expect("make's end", have=proc.returncode, want=-signal.SIGTERM, rows=out.splitlines()[-6:])
    doc = runs.report(tmp_path / "r") or {}
    evidence.expect("report verdict", have=doc.get("verdict"), want="interrupted")
    evidence.expect("suite exit recorded", have=doc.get("run", {}).get("exit_status"), want=128 + signal.SIGTERM)
    counts = doc.get("counts", {})
    evidence.record("counts", counts)
    verdicts = {c["id"]: c["verdict"] for c in doc.get("claims", [])}
    evidence.expect("the claim that finished first", have=verdicts.get(finished), want="proven")
    evidence.expect_true("the claims that did not run are listed", counts.get("not_run"))
    _nothing_left(watch, evidence, out)


def test_sigterm_during_a_private_cluster_proof_in_a_worker_leaves_nothing(tmp_path, evidence):
    """SIGTERM to the controller while an xdist worker's private cluster runs a restart proof: nothing left."""
    watch = Watch()
    proc = _start(_pytest(tmp_path, "proofs", "-n", "2", "--iu-claims", "E-8"), tmp_path)
    two = _wait_for(lambda: len(_folders()) >= 2)  # the run's cluster and the worker's private one
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    evidence.expect_true("the private cluster started", two, rows=[out[-600:]])
    evidence.expect("exit", have=proc.returncode, want=128 + signal.SIGTERM, rows=out.splitlines()[-6:])
    doc = runs.report(tmp_path / "r") or {}
    evidence.expect("report verdict", have=doc.get("verdict"), want="interrupted")
    _nothing_left(watch, evidence, out)


def test_the_next_run_sweeps_the_servers_of_a_killed_run_in_one_line(tmp_path, evidence):
    """A run killed with SIGKILL leaves its server; the next run stops and removes it and says so in one line."""
    proc = _start(_pytest(tmp_path, "proofs", "-p", "no:xdist", "--iu-claims", "S-1", "-s"), tmp_path)
    for line in proc.stdout:
        if "iu-prove target:" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = sorted(_folders())
    alive = [p for f in left for p in runs.postgres_processes(f)]
    evidence.expect_true("the killed run left a running server", left and alive, rows=left)
    removed = embedded.sweep_leftovers()
    evidence.expect_true("the sweep removed it", set(left) <= set(removed), rows=removed)
    evidence.expect("server processes left", have=[p for f in left for p in runs.postgres_processes(f)], want=[])
    sweep = subprocess.run(
        _pytest(tmp_path, "proofs/s_substrate/test_migrations.py", "-p", "no:xdist", "--co", "-q"),
        cwd=runs.ROOT,
        env=runs.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    evidence.expect(
        "a collect-only run after it says nothing about leftovers", have="removed" in sweep.stderr, want=False
    )


def test_a_signal_after_the_report_is_written_lets_clean_up_finish(tmp_path, evidence):
    """SIGTERM once the report is written: the server is still stopped, the exit is the report's, no traceback."""
    watch = Watch()
    proc = _start(_pytest(tmp_path, "proofs", "-p", "no:xdist", "--iu-claims", "S-1"), tmp_path)
    seen = ""
    for line in proc.stdout:
        seen += line
        if line.startswith("report: "):  # the terminal summary: the report is on disk, clean-up follows
            break
    alive = proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    out = seen + rest
    evidence.record("the run was still cleaning up when signalled", alive)
    doc = runs.report(tmp_path / "r") or {}
    evidence.expect("report verdict", have=doc.get("verdict"), want="partial")
    evidence.expect(
        "exit", have=proc.returncode, want=doc.get("run", {}).get("exit_status"), rows=out.splitlines()[-6:]
    )
    evidence.expect("tracebacks", have=out.count("Traceback"), want=0, rows=out.splitlines()[-6:])
    _nothing_left(watch, evidence, out)
