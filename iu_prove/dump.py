"""``pg_dump`` output that is byte-comparable between two dumps of one database."""

from __future__ import annotations

import functools
import shutil
import subprocess

from iu_prove.errors import SetupError


class DumpFailed(SetupError):
    pass


@functools.cache
def _supports_restrict_key(binary: str) -> bool:
    out = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    return "--restrict-key" in out


def pg_dump(dsn: str, *extra: str) -> str:
    """Plain-format dump; the random ``\\restrict`` key of newer pg_dump is pinned so dumps compare."""
    binary = shutil.which("pg_dump")
    if binary is None:
        raise DumpFailed("pg_dump is not on PATH; install the PostgreSQL client")
    args = [binary, "--no-password", "-d", dsn, *extra]
    if _supports_restrict_key(binary):
        args.append("--restrict-key=iuprove")
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DumpFailed(f"pg_dump failed: {proc.stderr.strip()}")
    return proc.stdout
