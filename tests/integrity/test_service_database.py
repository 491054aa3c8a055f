"""The CI example's service job, run as written: `make migrate DSN=` then
`make prove DSN= PYTEST_ARGS=--iu-scratch` with CI=true, against a database on
a server the suite did not build it for, with a password role (scram-sha-256).
Durable and intrusive proofs get databases of their own; the scratch database
ends exactly at its migrated state; the verdicts equal the embedded target's."""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess

import pytest
from psycopg.conninfo import conninfo_to_dict

from iu_prove import nested, paths
from iu_prove.dsn import connect
from iu_prove.dump import pg_dump
from tests import runs

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-1")]

SECRET = "Ci-service-pw-51a9"
EXAMPLE = paths.ROOT / "ci-examples" / "github-actions-prove.yml"
# Claims a DSN target cannot run whatever it allows: they restart or crash the suite's own server.
OWN_SERVER_ONLY = {"E-8"}
# Claims with a proof that switches roles (CREATE ROLE, SET ROLE): not run as the job's role, no superuser.
SUPERUSER_ONLY = {"E-1"}


def service_job_steps() -> list[str]:
    """The `make` commands of the example's service job, in order, as written."""
    steps, in_service = [], False
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            in_service = line.strip() == "service:"
        stripped = line.strip()
        if in_service and stripped.startswith("run: make "):
            steps.append(stripped.removeprefix("run: "))
    return steps


@pytest.fixture
def service_database(iu_target):
    """A database owned by a non-superuser role with CREATEDB and a password, on the run's server."""
    if iu_target.kind == "dsn":
        pytest.skip("[target] needs the embedded server to create a role and a database on")
    role, db = f"iu_ci_{os.getpid()}", f"iu_core_ci_{os.getpid()}"
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{SECRET}'")
        conn.execute(f"CREATE DATABASE {db} OWNER {role}")
    info = conninfo_to_dict(iu_target.server_dsn)
    yield f"postgresql://{role}:{SECRET}@/{db}?host={info['host']}&port={info['port']}", db
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        left = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{db}%"])]
        for name in left:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f"DROP ROLE IF EXISTS {role}")


def _run_step(step: str, dsn: str, report_dir, workers: str) -> subprocess.CompletedProcess:
    env = runs.child_env(CI="true", DSN=dsn, WORKERS=workers)
    cmd = f"{step} REPORTS={shlex.quote(str(report_dir))}" if step.startswith("make prove") else step
    return subprocess.run(["bash", "-c", cmd], cwd=runs.ROOT, env=env, capture_output=True, text=True, timeout=900)


def _dump(dsn: str) -> list[str]:
    return pg_dump(dsn).splitlines()


def test_the_ci_example_service_job_passes_and_leaves_the_database_as_migrated(
    service_database, iu_target, tmp_path, evidence
):
    """The CI example's service job passes with CI=true, serial and with 2 workers, leaving the database as migrated."""
    dsn, db = service_database
    steps = service_job_steps()
    evidence.expect(
        "service job steps",
        have=[s.split()[:2] for s in steps],
        want=[["make", "migrate"], ["make", "prove"]],
        rows=steps,
    )
    migrate = _run_step(steps[0], dsn, tmp_path, "2")
    evidence.expect("make migrate exit", have=migrate.returncode, want=0, rows=migrate.stderr.splitlines()[-5:])
    migrated = _dump(dsn)
    outputs = migrate.stdout + migrate.stderr
    verdicts = {}
    for workers in ("2", "0"):
        proc = _run_step(steps[1], dsn, tmp_path / f"w{workers}", workers)
        outputs += proc.stdout + proc.stderr
        doc = runs.report(tmp_path / f"w{workers}") or {}
        label = "serial" if workers == "0" else "2 workers"
        failed = [c["id"] for c in doc.get("claims", []) if c["verdict"] == "failed"]
        evidence.expect(f"{label}: exit", have=proc.returncode, want=0, rows=failed + proc.stdout.splitlines()[-8:])
        verdicts[label] = {c["id"]: c["verdict"] for c in doc.get("claims", [])}
        not_run = {n["id"] for n in doc.get("not_run", [])}
        evidence.expect(f"{label}: claims not run", have=sorted(not_run), want=sorted(OWN_SERVER_ONLY | SUPERUSER_ONLY))
        evidence.expect(f"{label}: verdict", have=doc.get("verdict"), want="partial")
        changed = [ln for ln in difflib.unified_diff(migrated, _dump(dsn), lineterm="", n=0)][:20]
        evidence.expect(f"{label}: pg_dump lines changed since migrate", have=len(changed), want=0, rows=changed)
    proven = sorted(c for c, v in verdicts["serial"].items() if v == "proven")
    evidence.record("claims proven on the service database", len(proven))
    evidence.expect("serial and 2 workers agree", have=verdicts["serial"], want=verdicts["2 workers"])
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        left = [
            r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [db + "_"])
        ]
    evidence.expect("databases the runs left beside it", have=left, want=[])
    evidence.expect("password printed", have=SECRET in outputs, want=False)


def test_a_role_that_cannot_create_databases_gets_one_line_and_partial(iu_target, tmp_path, evidence):
    """A scratch DSN whose role lacks CREATEDB: one line with the remedy, durable proofs not run, exit 3."""
    if iu_target.kind == "dsn":
        pytest.skip("[target] needs the embedded server to create a role and a database on")
    role, db = f"iu_nocreate_{os.getpid()}", f"iu_core_nocreate_{os.getpid()}"
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD '{SECRET}'")
        conn.execute(f"CREATE DATABASE {db} OWNER {role}")
    info = conninfo_to_dict(iu_target.server_dsn)
    dsn = f"postgresql://{role}:{SECRET}@/{db}?host={info['host']}&port={info['port']}"
    try:
        run = nested.run(
            ["proofs", "-p", "no:xdist", "-q", f"--iu-dsn={dsn}", "--iu-scratch", "--iu-claims", "S-3,F-5"],
            report_dir=tmp_path / "r",
        )
    finally:
        with connect(iu_target.server_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {role}")
    doc = run.report or {}
    lines = [ln for ln in run.stderr.splitlines() if "CREATEDB" in ln]
    evidence.expect("exit (3: a claim could not run in this environment)", have=run.returncode, want=3)
    evidence.expect("verdict", have=doc.get("verdict"), want="partial")
    evidence.expect("lines naming the remedy", have=len(lines), want=1, rows=run.stderr.splitlines()[-5:])
    verdicts = run.verdicts()
    evidence.expect("S-3 and F-5", have=[verdicts.get("S-3"), verdicts.get("F-5")], want=["proven", "not_run"])
    kinds = {n["kind"] for n in doc.get("not_run", []) if n["id"] == "F-5"}
    evidence.expect("F-5 not run because of the environment", have=kinds, want={"environment"})
    evidence.expect("password printed", have=SECRET in run.stdout + run.stderr, want=False)
