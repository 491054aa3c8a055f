"""Under load: the proofs keep their verdicts while a concurrent pgbench load
reads and writes the substrate, and the load sees no error."""

import shutil
import subprocess
import threading
import time

import psycopg
import pytest

from iu_prove import nested
from iu_prove.dsn import connect
from proofs._substrate import LOCK_CONFIG_ROWS

pytestmark = pytest.mark.slow

# Each load transaction reads the substrate, opens the orchestrator gate, composes
# one instance and rolls back: it takes the same row locks the proofs take.
LOAD_SCRIPT = """
BEGIN;
SELECT count(*) FROM information_unit WHERE kind = 'collection';
SELECT * FROM dot_iu_healthcheck();
SELECT fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, 'iu-load');
SELECT * FROM dot_iu_auto_instantiate_from_event('WF-REVIEW', 'iu-load', false);
SELECT fn_iu_three_axis_envelope_refresh_if_stale('iu-load');
ROLLBACK;
"""


# The proofs that take the same gate rows and orchestrator locks as the load: the point is
# contention on those, which the other packages' proofs do not add to.
UNDER_LOAD = ["proofs/s_substrate", "proofs/d_envelope_refresh", "proofs/e_scaleout"]


@pytest.mark.claim("H-6")
@pytest.mark.durable
def test_verdicts_are_unchanged_under_a_concurrent_read_write_load(substrate_clone, tmp_path, evidence):
    """Proofs run beside a 2-client pgbench load on their database keep their verdicts; the load has 0 errors."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        pytest.skip("[environment] pgbench is not installed (tools/install-system-deps.sh installs it)")
    (tmp_path / "load.sql").write_text(LOAD_SCRIPT)
    quiet = nested.run([*UNDER_LOAD, "-n", "2", "-q", f"--iu-dsn={substrate_clone}"], report_dir=tmp_path / "quiet")
    seconds = int(quiet.report["run"]["duration_s"]) + 5  # the load outlasts the loaded run, then ends by itself
    load = subprocess.Popen(
        [
            pgbench,
            "-n",
            "-c",
            "2",
            "-T",
            str(seconds),
            "-l",
            f"--log-prefix={tmp_path / 'txlog'}",
            "-f",
            str(tmp_path / "load.sql"),
            substrate_clone,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        loaded = nested.run(
            [*UNDER_LOAD, "-n", "2", "-q", f"--iu-dsn={substrate_clone}"], report_dir=tmp_path / "loaded"
        )
    finally:
        _, err = load.communicate(timeout=seconds + 120)
    # one log line per load transaction: "client_id tx_no time_us script_no epoch us" (time "failed" on error)
    log_lines = [ln for f in tmp_path.glob("txlog*") for ln in f.read_text().splitlines()]
    evidence.record("load transactions", len(log_lines))
    evidence.expect("load errors", have=[ln for ln in err.splitlines() if "error" in ln.lower()], want=[])
    evidence.expect_no_rows("load transactions that failed", [ln for ln in log_lines if "failed" in ln])
    q, lo = quiet.verdicts(), loaded.verdicts()
    evidence.record("claims", len(q))
    evidence.expect_no_rows(
        "claims whose verdict changed under load (claim, quiet, loaded)",
        [(c, q.get(c), lo.get(c)) for c in sorted(set(q) | set(lo)) if q.get(c) != lo.get(c)],
    )
    evidence.expect_where("load transactions during the run", len(log_lines), lambda n: n > 0, "> 0")


# A proof emptying iu_core_config beside a gate setter: with 045's key order first, or alone (a
# DELETE locks in physical order: the migrations' order, delivery_enabled before auto_instantiate).
EMPTYING = {
    "key-order-first": [LOCK_CONFIG_ROWS, "DELETE FROM iu_core_config"],
    "alone": ["DELETE FROM iu_core_config"],
}


@pytest.mark.claim("H-6")
@pytest.mark.parametrize("emptying", list(EMPTYING))
def test_a_proofs_raw_config_write_waits_for_a_concurrent_setter_instead_of_deadlocking(
    substrate_clone, evidence, emptying
):
    """A proof's DELETE of every config row beside a setter midway through 045's key order: waits, no deadlock."""
    errors: dict[str, str | None] = {}
    with connect(substrate_clone) as setter, connect(substrate_clone) as proof:
        setter.execute("SET deadlock_timeout = '100ms'")
        proof.execute("SET deadlock_timeout = '100ms'")
        # the setter's first lock in key order; the rest it takes inside fn_iu_core_config_set below
        setter.execute("SELECT 1 FROM iu_core_config WHERE key = (SELECT min(key) FROM iu_core_config) FOR UPDATE")
        proof_pid = proof.info.backend_pid

        def empty() -> None:
            try:
                for statement in EMPTYING[emptying]:
                    proof.execute(statement)
                errors["proof"] = None
            except psycopg.Error as exc:
                errors["proof"] = exc.sqlstate
            finally:
                proof.rollback()

        worker = threading.Thread(target=empty)
        worker.start()
        waiting = _wait_for_lock_wait(substrate_clone, proof_pid)
        try:
            setter.execute("SELECT fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, 'iu-load')")
            errors["setter"] = None
        except psycopg.Error as exc:
            errors["setter"] = exc.sqlstate
        finally:
            setter.rollback()
        worker.join(timeout=30)
    evidence.expect("the proof waited on a lock before the setter went on", have=waiting, want=True)
    deadlocks = sorted(who for who, state in errors.items() if state == "40P01")
    if emptying == "alone":  # the scenario is real: without the key order it deadlocks
        evidence.expect("sessions aborted by a deadlock", have=len(deadlocks), want=1, rows=[errors])
    else:
        evidence.expect("errors (session: SQLSTATE)", have=errors, want={"proof": None, "setter": None})


def _wait_for_lock_wait(dsn: str, pid: int, seconds: float = 10.0) -> bool:
    """True once backend ``pid`` waits on a lock, read from a third session."""
    deadline = time.monotonic() + seconds
    with connect(dsn, autocommit=True) as look:
        while time.monotonic() < deadline:
            row = look.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if row and row[0] == "Lock":
                return True
            time.sleep(0.05)
    return False
