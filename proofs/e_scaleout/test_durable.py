"""E-8: a committed batch survives server restarts, then rollback-by-actor restores the pre-batch fingerprints."""

from __future__ import annotations

import pytest

from iu_prove import fingerprint
from iu_prove.dsn import connect
from proofs.e_scaleout import _scaleout as sc


@pytest.mark.claim("E-8")
@pytest.mark.durable
@pytest.mark.parametrize("n", [20, 40])
def test_a_committed_batch_survives_a_restart_and_a_crash_then_rolls_back(private_cluster, psql, evidence, n):
    """A batch committed by the script survives a clean restart and a crash; rollback then restores every table."""
    evidence.add("N", n)
    dsn = private_cluster.dsn("iu_private")
    actor = sc.default_actor(n)

    def snapshot():
        with connect(dsn) as db:
            prints = fingerprint.of_schema(db)
            lineage = sc.scalar(db, f"SELECT count(*) FROM {sc.LINEAGE} WHERE actor = %s", [actor])
            db.rollback()
        return prints, lineage

    pristine, lineage0 = snapshot()
    evidence.expect(f"lineage rows of {actor} before the run", have=lineage0, want=0)
    run = psql.run("scaleout/run_bounded_scaleout.sql", dsn=dsn, n=n, live="true")
    assert run.returncode == 0, str(run)
    committed, lineage1 = snapshot()
    evidence.expect("lineage rows after the commit", have=lineage1, want=n)

    private_cluster.restart()
    after_restart, _ = snapshot()
    private_cluster.kill()  # immediate stop: crash recovery on the next start
    private_cluster.start()
    after_crash, lineage2 = snapshot()
    evidence.expect_no_rows(
        "tables that differ after a clean restart", fingerprint.describe(fingerprint.diff(committed, after_restart))
    )
    evidence.expect_no_rows(
        "tables that differ after a crash and recovery", fingerprint.describe(fingerprint.diff(committed, after_crash))
    )
    evidence.record("lineage rows after the restarts", lineage2)

    verify = psql.run("scaleout/verify_batch.sql", dsn=dsn, actor=actor, n=n)
    evidence.expect("verify_batch.sql after the restarts", have=verify.returncode, want=0, note=verify.output[-500:])
    dry = psql.run("scaleout/rollback_batch.sql", dsn=dsn, actor=actor)
    live = psql.run("scaleout/rollback_batch.sql", dsn=dsn, actor=actor, live="true")
    evidence.record("rollback exit codes (dry run, live)", [dry.returncode, live.returncode])
    assert (dry.returncode, live.returncode) == (0, 0), f"{dry}\n{live}"
    restored, _ = snapshot()
    evidence.expect_no_rows(
        "tables that differ from before the batch after the rollback",
        fingerprint.describe(fingerprint.diff(pristine, restored)),
    )
