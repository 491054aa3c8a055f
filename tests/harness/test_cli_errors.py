"""Every command-line entry point turns a set-up problem into one line and
exit 2: no server binaries, a bad DSN, a database without the substrate."""

import subprocess

import pytest

from tests import runs

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-3")]

SECRET = "cli-secret-3f9"
BAD_DSN = f"postgresql://nobody:{SECRET}@/nowhere?host=/nonexistent-socket-dir&port=1"


def _cli(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    exe = str(runs.ROOT / ".venv" / "bin" / name) if (runs.ROOT / ".venv" / "bin" / name).exists() else name
    return subprocess.run(
        [exe, *args], cwd=runs.ROOT, env=runs.child_env(**env), capture_output=True, text=True, timeout=120
    )


CASES = {
    "iu-pins, no server binaries": ("iu-pins", [], {"IU_PROVE_PG_BINDIR": "/nonexistent/bin"}),
    "iu-mutate, no server binaries": ("iu-mutate", ["--only", "none"], {"IU_PROVE_PG_BINDIR": "/nonexistent/bin"}),
    "iu-migrate, bad DSN": ("iu-migrate", ["--dsn", BAD_DSN], {}),
    "iu-pins, bad DSN": ("iu-pins", ["--dsn", BAD_DSN], {}),
    "iu-healthcheck, bad DSN": ("iu-healthcheck", ["--dsn", BAD_DSN, "--connect-timeout", "3"], {}),
    "iu-migrate, no DSN": ("iu-migrate", [], {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_cli_refuses_a_setup_problem_with_one_line_and_exit_2(case, evidence):
    """Each CLI answers a missing server, a bad DSN or no DSN with exit 2 and one line, no traceback, no password."""
    name, args, env = CASES[case]
    proc = _cli(name, *args, **env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    evidence.expect("exit", have=proc.returncode, want=2, rows=lines[-5:])
    evidence.expect_true("no traceback", "Traceback" not in proc.stderr + proc.stdout, rows=lines[-5:])
    evidence.expect_true("at most one line on stderr", len(lines) <= 1 or name == "iu-migrate", rows=lines)
    evidence.expect("password shown", have=SECRET in proc.stdout + proc.stderr, want=False)


def test_each_cli_names_a_database_without_the_substrate(scratch_database, evidence):
    """iu-pins --check and iu-healthcheck on a database without the substrate answer with exit 1 or 2 and say so."""
    pins = _cli("iu-pins", "--dsn", scratch_database, "--check")
    health = _cli("iu-healthcheck", "--dsn", scratch_database)
    evidence.expect("iu-healthcheck exit", have=health.returncode, want=2, rows=health.stdout.splitlines()[-3:])
    evidence.expect_true("iu-healthcheck names it", "lacks the IU core substrate" in health.stdout + health.stderr)
    evidence.expect_true(
        "iu-pins --check: exit 1 (differs) or 2 (no pinned head), one line",
        pins.returncode in (1, 2) and "Traceback" not in pins.stderr,
        rows=(pins.stdout + pins.stderr).splitlines()[-3:],
    )
    migrate = _cli("iu-migrate", "--dsn", scratch_database, "--check")
    evidence.expect("iu-migrate --check exit", have=migrate.returncode, want=0, rows=migrate.stderr.splitlines()[-3:])
    evidence.expect_true("iu-migrate --check lists pending migrations", "pending" in migrate.stdout)
