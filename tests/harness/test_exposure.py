"""The embedded server accepts no one but the run, no secret is ever printed,
and the Hypothesis profile is the one the user chose through make."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from iu_prove.dsn import connect, dbname_of, with_dbname
from tests import runs

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-3")]

SECRET = "Pw-never-printed-7c1e"


def _other_user() -> str | None:
    for name in ("nobody", "daemon"):
        if subprocess.run(["id", name], capture_output=True).returncode == 0:
            return name
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="[target] switching to another OS user needs a run as root")
def test_another_os_user_cannot_connect_to_the_embedded_server(iu_target, evidence):
    """While a run is going on, another OS user cannot reach the embedded server, neither by socket nor by TCP."""
    info = conninfo_to_dict(iu_target.server_dsn)
    user = _other_user()
    evidence.expect_true("another OS user exists", user)
    attempts = {
        "socket as the run's superuser": f"host={info['host']} port={info['port']} user=iu dbname=postgres",
        "TCP 127.0.0.1 on the run's port": f"host=127.0.0.1 port={info['port']} user=iu dbname=postgres",
    }
    outcomes = {}
    for label, conninfo in attempts.items():
        proc = subprocess.run(
            ["runuser", "-u", user, "--", shutil.which("psql"), conninfo, "-Atc", "select 1"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        outcomes[label] = [proc.returncode, proc.stdout.strip(), proc.stderr.strip().splitlines()[-1:]]
    evidence.record("attempts", outcomes)
    evidence.expect("connections that answered", have=[k for k, v in outcomes.items() if v[1] == "1"], want=[])
    own = subprocess.run(
        [shutil.which("psql"), iu_target.server_dsn, "-Atc", "select 1"], capture_output=True, text=True, timeout=30
    )
    evidence.expect("the run itself still connects", have=own.stdout.strip(), want="1")
    mode = oct(Path(info["host"]).stat().st_mode & 0o777)
    evidence.expect("socket folder mode", have=mode, want="0o700")


@pytest.fixture
def password_role(iu_target):
    """A superuser role with a password (scram-sha-256 on the embedded server), dropped afterwards."""
    role = f"iu_pw_{os.getpid()}"
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{SECRET}'")
    yield role
    with connect(iu_target.server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")


def _password_dsn(iu_target, role: str, dbname: str) -> str:
    info = conninfo_to_dict(with_dbname(iu_target.server_dsn, dbname))
    return f"postgresql://{role}:{SECRET}@/{dbname}?host={info['host']}&port={info['port']}"


def test_no_make_target_prints_the_password_of_a_dsn(tmp_path, iu_target, password_role, scratch_database, evidence):
    """`make migrate`, `make prove` and `make retention-enable` with a password DSN never print the password."""
    dsn = _password_dsn(iu_target, password_role, dbname_of(scratch_database))
    reports = tmp_path / "r"
    commands = {
        "make migrate": ["make", "migrate", f"DSN={dsn}"],
        "make prove": ["make", "prove", f"DSN={dsn}", f"REPORTS={reports}", "WORKERS=0", "PYTEST_ARGS=--iu-claims S-2"],
        "make pins-check": ["make", "pins-check", f"DSN={dsn}"],
        "make retention-enable": ["make", "retention-enable", f"DSN={dsn}", f"OUT={tmp_path / 'backups'}"],
    }
    shown = {}
    exits = {}
    for label, cmd in commands.items():
        proc = subprocess.run(cmd, cwd=runs.ROOT, env=runs.child_env(), capture_output=True, text=True, timeout=600)
        exits[label] = proc.returncode
        shown[label] = SECRET in proc.stdout + proc.stderr
    files = [p for p in [*reports.rglob("*"), *(tmp_path / "backups").rglob("*")] if p.is_file()]
    in_files = [str(p) for p in files if SECRET in p.read_text(errors="replace")]
    evidence.record("exit codes", exits)
    evidence.expect(
        "make migrate and make prove succeed", have=[exits["make migrate"], exits["make prove"]], want=[0, 0]
    )
    evidence.expect("commands that printed the password", have=[k for k, v in shown.items() if v], want=[])
    evidence.expect_true("report files were written", any(p.name == "proof-report.json" for p in files))
    evidence.expect("files that contain the password", have=in_files, want=[])


@pytest.mark.parametrize(
    ("setting", "want"),
    [
        ({"IU_PROVE_PROFILE": "thorough"}, "thorough"),
        ({"PROFILE": "ci"}, "ci"),
        ({"CI": "true"}, "ci"),
        ({"CI": "1"}, "ci"),
        ({"CI": "false"}, "dev"),
        ({"CI": "0"}, "dev"),
        ({"PYTEST_ARGS": "--iu-claims S-2 --hypothesis-profile thorough"}, "thorough"),
    ],
)
def test_the_hypothesis_profile_is_the_one_chosen_through_make(tmp_path, attach_spec, setting, want, evidence):
    """IU_PROVE_PROFILE, PROFILE= and --hypothesis-profile all reach the run through make; only a truthy CI picks ci."""
    env = runs.child_env(IU_PROVE_ATTACH=attach_spec)
    env.pop("CI", None)  # the suite's own run may be under CI; each case sets what it tests
    args = [f"REPORTS={tmp_path / 'r'}", "WORKERS=0", "PYTEST_ARGS=--iu-claims S-2"]
    for key, value in setting.items():
        if key in ("PROFILE", "PYTEST_ARGS"):
            args = [a for a in args if not a.startswith(f"{key}=")] + [f"{key}={value}"]
        else:
            env[key] = value
    proc = subprocess.run(["make", "-s", "prove", *args], cwd=runs.ROOT, env=env, capture_output=True, text=True)
    doc = runs.report(tmp_path / "r") or {}
    evidence.expect("exit", have=proc.returncode, want=0, rows=(proc.stdout + proc.stderr).splitlines()[-5:])
    evidence.expect("profile", have=doc.get("run", {}).get("hypothesis_profile"), want=want)
