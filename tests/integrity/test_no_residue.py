"""H-1: a run against a long-lived database leaves it exactly as it found it."""

import difflib
import os

import pytest

from iu_prove import nested, residue
from iu_prove.dsn import connect
from iu_prove.dump import pg_dump

pytestmark = pytest.mark.slow


@pytest.fixture
def long_lived_database(iu_target):
    """A database with substrate and fixtures that the run does not own (no --iu-scratch)."""
    name = f"iu_long_lived_{os.getpid()}"
    dsn = iu_target.clone(name)
    yield dsn
    iu_target.drop(name)


@pytest.mark.claim("H-1")
def test_a_full_run_on_a_long_lived_database_leaves_pg_dump_byte_identical(long_lived_database, tmp_path, evidence):
    """A full proof run against a long-lived database leaves its pg_dump byte-identical."""
    before = pg_dump(long_lived_database)
    run = nested.run(["proofs", "-n", "2", "-q", f"--iu-dsn={long_lived_database}"], report_dir=tmp_path / "r")
    after = pg_dump(long_lived_database)
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
def test_the_residue_check_sees_a_committed_row(long_lived_database, evidence):
    """The fingerprint check is not blind: one committed row shows up as a difference."""
    before = residue.snapshot(long_lived_database)
    with connect(long_lived_database) as conn:
        conn.execute(
            "UPDATE iu_core_config SET description = description || '.' WHERE key = 'iu_core.retention_enabled'"
        )
        conn.commit()
    lines = residue.differences(before, residue.snapshot(long_lived_database))
    evidence.expect("tables reported as changed", have=[ln.split(":")[0] for ln in lines], want=["iu_core_config"])
