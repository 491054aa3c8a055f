"""A throw-away PostgreSQL cluster built from the installed server binaries.

pytest-postgresql's ``postgresql_proc`` cannot serve here: it runs ``initdb``
and ``pg_ctl`` as the current user (which PostgreSQL refuses when that user is
root), it keeps the data directory under pytest's 0700 basetemp (unreadable to
another OS user), and it starts one server per xdist worker. This module starts
one cluster per run, as the ``postgres`` OS user when the run is root, in a
directory that user owns, and always removes it. Databases, templates and clones
on it are then handled with pytest-postgresql's ``DatabaseJanitor``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import port_for

from iu_prove.pgbin import find_bindir

SUPERUSER = "iu"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "shared_preload_libraries": "pg_stat_statements",
    "log_min_messages": "warning",
}


class EmbeddedClusterError(RuntimeError):
    pass


def _server_os_user() -> str | None:
    """The OS user the server must run as: None for the current user."""
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("IU_PROVE_SERVER_USER", "postgres")
    try:
        pwd.getpwnam(wanted)
    except KeyError as exc:
        raise EmbeddedClusterError(
            f"running as root, the embedded PostgreSQL must run as another OS user, "
            f"but user {wanted!r} does not exist: create it (`useradd --system {wanted}`) "
            "or set IU_PROVE_SERVER_USER"
        ) from exc
    return wanted


@dataclass
class EmbeddedCluster:
    """One PostgreSQL cluster in a private temporary directory."""

    bindir: Path = field(default_factory=find_bindir)
    port: int = 0
    base: Path | None = None
    os_user: str | None = field(default_factory=_server_os_user)
    host: str = "127.0.0.1"
    user: str = SUPERUSER

    @property
    def datadir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        assert self.base is not None
        return self.base / "server.log"

    @property
    def sockdir(self) -> Path:
        assert self.base is not None
        return self.base / "sock"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.base)
        if check and proc.returncode != 0:
            raise EmbeddedClusterError(
                f"{' '.join(args[:2])} failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()}\n{self.log_tail()}"
            )
        return proc

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "server log:\n" + "\n".join(text[-lines:]) if text else ""

    def _make_base(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="iu-prove-pg-"))
        self.sockdir.mkdir()
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            for path in (self.base, self.sockdir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        self._make_base()
        self._run(
            self.bindir / "initdb",
            "-D",
            self.datadir,
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        conf = "\n".join(f"{k} = '{v}'" for k, v in SERVER_SETTINGS.items())
        with open(self.datadir / "postgresql.auto.conf", "a") as fh:
            fh.write("\n" + conf + "\n")

    def start(self) -> None:
        if not self.port:
            self.port = port_for.select_random()
        self._run(
            self.bindir / "pg_ctl",
            "-D",
            self.datadir,
            "-l",
            self.logfile,
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} -k {self.sockdir}",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        if self.base is None or not self.datadir.exists():
            return
        proc = self._run(self.bindir / "pg_ctl", "-D", self.datadir, "-m", mode, "-w", "stop", check=False)
        if proc.returncode != 0 and mode != "immediate" and self.running():
            self._run(self.bindir / "pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop", check=False)

    def kill(self) -> None:
        """Crash the server (``pg_ctl stop -m immediate``): no shutdown checkpoint."""
        self.stop(mode="immediate")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        if self.base is None:
            return False
        return self._run(self.bindir / "pg_ctl", "-D", self.datadir, "status", check=False).returncode == 0

    def remove(self) -> None:
        """Stop the server if it runs and delete every file of the cluster."""
        if self.base is None:
            return
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def __enter__(self) -> EmbeddedCluster:
        try:
            self.init()
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
