"""H-1: a run against a long-lived database leaves it exactly as it found it."""

import difflib

import pytest

from iu_prove import nested, residue
from iu_prove.dsn import connect
from iu_prove.dump import pg_dump

pytestmark = pytest.mark.slow


@pytest.mark.claim("H-1")
def test_a_full_run_on_a_long_lived_database_leaves_pg_dump_byte_identical(substrate_clone, tmp_path, evidence):
    """A full proof run against a long-lived database leaves its pg_dump byte-identical."""
    before = pg_dump(substrate_clone)
    run = nested.run(["proofs", "-n", "2", "-q", f"--iu-dsn={substrate_clone}"], report_dir=tmp_path / "r")
    after = pg_dump(substrate_clone)
    verdicts = run.verdicts()
    evidence.record(
        "claims run on the DSN target",
        {v: sum(1 for x in verdicts.values() if x == v) for v in sorted(set(verdicts.values()))},
    )
    evidence.record("dump bytes", len(before))
    failed = sorted(c for c, v in verdicts.items() if v == "failed")
    evidence.expect("run exit code", have=run.returncode, want=0, rows=failed, note=run.stderr[-2000:])
    changed = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    evidence.expect("pg_dump difference (lines)", have=len(changed), want=0, rows=changed[:20])
    evidence.expect("residue reported by the run", have=run.report["run"]["residue"]["differences"], want=[])


@pytest.mark.claim("H-1")
def test_the_residue_check_sees_a_committed_row(substrate_clone, evidence):
    """The fingerprint check is not blind: one committed row shows up as a difference."""
    before = residue.snapshot(substrate_clone)
    with connect(substrate_clone) as conn:
        conn.execute(
            "UPDATE iu_core_config SET description = description || '.' WHERE key = 'iu_core.retention_enabled'"
        )
        conn.commit()
    lines = residue.differences(before, residue.snapshot(substrate_clone))
    evidence.expect("tables reported as changed", have=[ln.split(":")[0] for ln in lines], want=["iu_core_config"])
