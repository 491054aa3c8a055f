"""H-4: serial and parallel runs of the proofs give identical verdicts."""

import pytest

from iu_prove import nested

pytestmark = pytest.mark.slow


@pytest.mark.claim("H-4")
@pytest.mark.xdist_group("reference")
def test_serial_and_two_worker_runs_agree(attach_spec, reference_run, tmp_path, evidence):
    """The proofs run serially and with two xdist workers give the same verdict for every claim."""
    serial, _ = reference_run
    parallel = nested.run(["proofs", "-n", "2", "-q"], report_dir=tmp_path / "parallel", attach=attach_spec)
    s, p = serial.verdicts(), parallel.verdicts()
    evidence.record("claims", len(s))
    evidence.record(
        "durations_s", {"serial": serial.report["run"]["duration_s"], "parallel": parallel.report["run"]["duration_s"]}
    )
    disagreements = [(c, s.get(c), p.get(c)) for c in sorted(set(s) | set(p)) if s.get(c) != p.get(c)]
    evidence.expect_no_rows("claims whose verdicts differ (claim, serial, parallel)", disagreements)
    evidence.expect_true("both runs proved something", s and p)
