"""Run ops scripts through the real ``psql`` client, as an operator would."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from iu_prove import paths
from iu_prove.errors import SetupError


def operator_env(**extra: str) -> dict[str, str]:
    """The environment an operator's shell has: none of the suite's own variables (``IU_PROVE_*``,
    ``IU_HEALTHCHECK_*``, ``PYTEST_*``) and no libpq defaults (``PG*``) but the password, which the
    run keeps in ``PGPASSWORD`` as an operator keeps it there or in ~/.pgpass."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IU_PROVE_", "IU_HEALTHCHECK_", "PYTEST_", "PG")) or k == "PGPASSWORD"
    }
    env.update(extra)
    return env


class PsqlNotFound(SetupError):
    pass


@dataclass
class PsqlResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"psql exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def psql_binary() -> str:
    found = shutil.which("psql")
    if not found:
        raise PsqlNotFound("psql is not on PATH; install the PostgreSQL client (`apt-get install postgresql-client`)")
    return found


def run(
    dsn: str,
    script: str | Path | None = None,
    *,
    variables: dict[str, object] | None = None,
    command: str | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> PsqlResult:
    """``psql -X -v ON_ERROR_STOP=1 [-v k=v…] -f script`` (paths relative to ``sql/ops``)."""
    args = [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    for key, value in (variables or {}).items():
        args += ["-v", f"{key}={value}"]
    if script is not None:
        path = Path(script)
        if not path.is_absolute():
            path = paths.OPS / path
        args += ["-f", str(path)]
    if command is not None:
        args += ["-c", command]
    env = {**os.environ, "PGAPPNAME": "iu-prove-psql"}
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    return PsqlResult(args, proc.returncode, proc.stdout, proc.stderr)


def run_in_rolled_back_session(dsn: str, setup_sql: str, script: str | Path, **variables: object) -> PsqlResult:
    """One psql session: BEGIN, ``setup_sql``, the script (``\\i``, relative to ``sql/ops``), ROLLBACK.

    The script sees the uncommitted set-up (e.g. a breakage it must detect); nothing is
    ever committed (an error ends the session under ON_ERROR_STOP, which rolls it back).
    """
    path = Path(script) if Path(script).is_absolute() else paths.OPS / script
    stdin = "\n".join(
        [
            "BEGIN;",
            "SET LOCAL lock_timeout = '2s';",
            "SET LOCAL statement_timeout = '60s';",
            setup_sql.strip().rstrip(";") + ";",
            f"\\i '{path}'",
            "ROLLBACK;",
            "",
        ]
    )
    return run(dsn, variables=variables, stdin=stdin)
