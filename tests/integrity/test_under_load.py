"""Under load: the proofs keep their verdicts while a concurrent pgbench load
reads and writes the substrate, and the load sees no error."""

import shutil
import subprocess

import pytest

from iu_prove import nested

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
