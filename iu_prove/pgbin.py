"""Find the PostgreSQL server binaries installed on this machine.

The server major version is not hard-coded: ``IU_PROVE_PG_BINDIR`` wins, then
``pg_config --bindir``, then the newest ``/usr/lib/postgresql/*/bin`` and
``/usr/pgsql-*/bin``, then whatever ``initdb`` is on ``PATH``.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from pathlib import Path

from iu_prove import config
from iu_prove.errors import SetupError

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


class ServerBinariesNotFound(SetupError):
    pass


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in SERVER_BINARIES)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def candidates() -> list[Path]:
    found: list[Path] = []
    env = config.env("IU_PROVE_PG_BINDIR")
    if env:  # an explicit choice is the only candidate: a wrong one is an error, never bypassed
        return [Path(env)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            found.append(Path(out.stdout.strip()))
        except (OSError, subprocess.CalledProcessError):
            pass
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin"):
        found.extend(Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True))
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).parent)
    return found


def find_bindir() -> Path:
    """Return the first directory holding initdb, pg_ctl and postgres."""
    tried = candidates()
    for bindir in tried:
        if _has_server(bindir):
            return bindir
    where = ", ".join(str(p) for p in tried) or "nothing found"
    raise ServerBinariesNotFound(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; tried: "
        f"{where}. Install the server package (e.g. `apt-get install postgresql`) "
        "or set IU_PROVE_PG_BINDIR."
    )
