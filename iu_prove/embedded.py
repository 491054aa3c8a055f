"""A throw-away PostgreSQL cluster built from the installed server binaries.

pytest-postgresql's ``postgresql_proc`` cannot serve here: it runs ``initdb``
and ``pg_ctl`` as the current user (which PostgreSQL refuses when that user is
root), it keeps the data directory under pytest's 0700 basetemp (unreadable to
another OS user), and it starts one server per xdist worker. This module starts
one cluster per run, as the ``postgres`` OS user when the run is root, in a
directory that user owns, and always removes it. Databases, templates and clones
on it are then handled with pytest-postgresql's ``DatabaseJanitor``.

The server accepts no one but the run: it listens on a Unix socket only (no
TCP), in a 0700 folder owned by the server's OS user, so another OS user cannot
reach it. The run's own superuser is trusted there; any other role must give
its password (scram-sha-256). The server is started in a session of its own, so
a Ctrl-C or a CI job's signal to the run's process group reaches the run, which
then stops the server in order. Each cluster folder records the run that owns
it; :func:`sweep_leftovers` removes the clusters of runs that are gone (after a
SIGKILL or a power loss).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import port_for

from iu_prove import config
from iu_prove.errors import SetupError
from iu_prove.pgbin import find_bindir

SUPERUSER = "iu"
SERVER_SETTINGS = {
    "listen_addresses": "",
    "unix_socket_permissions": "0700",
    "password_encryption": "scram-sha-256",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "shared_preload_libraries": "pg_stat_statements",
    "log_min_messages": "warning",
}


class EmbeddedClusterError(SetupError):
    pass


BASE_PREFIX = "iu-prove-pg-"
OWNER_FILE = "owner"
RUN_ENV = "IU_PROVE_RUN_OWNER"  # the run (controlling process) a cluster belongs to
LABEL_ENV = "IU_PROVE_RUN_LABEL"  # a free label written beside it (tests find their runs' servers by it)


def _process_start(pid: int) -> str:
    """The start time of a process (field 22 of /proc/PID/stat), '' if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _owner_token(pid: int) -> str:
    return f"{pid} {_process_start(pid)}"


def run_token() -> str:
    """This run's token: set by the controlling process, inherited by its workers."""
    return config.env(RUN_ENV) or _owner_token(os.getpid())


def claim_run() -> None:
    """Make this process the owner of the clusters it and its workers start."""
    os.environ[RUN_ENV] = _owner_token(os.getpid())


def _owner_alive(token: str) -> bool:
    try:
        pid_text, start = token.split(" ", 1)
        pid = int(pid_text)
    except ValueError:
        return False
    return bool(_process_start(pid)) and _process_start(pid) == start.strip()


def sweep_leftovers(of_run: str | None = None, tmpdir: str | None = None) -> list[str]:
    """Stop and remove embedded clusters whose owning process is gone (and, with
    ``of_run``, every cluster of that run); return their folders."""
    removed = []
    for folder in sorted(glob.glob(os.path.join(tmpdir or tempfile.gettempdir(), BASE_PREFIX + "*"))):
        base = Path(folder)
        try:
            owner, run, *_ = [*(base / OWNER_FILE).read_text().split("\n"), ""]
        except OSError:
            continue  # no owner recorded (being created, or not ours to judge): leave it
        if _owner_alive(owner) and not (of_run and run.strip() == of_run):
            continue
        orphan = EmbeddedCluster.__new__(EmbeddedCluster)
        orphan.base, orphan.port = base, 0
        orphan.os_user = _folder_owner(base)
        try:
            orphan.bindir = find_bindir()
            orphan.stop(mode="immediate")
        except SetupError:
            pass
        shutil.rmtree(base, ignore_errors=True)
        if not base.exists():
            removed.append(str(base))
    return removed


def _folder_owner(base: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        name = pwd.getpwuid(base.stat().st_uid).pw_name
    except (KeyError, OSError):
        return None
    return None if name == "root" else name


def _server_os_user() -> str | None:
    """The OS user the server must run as: None for the current user."""
    if os.geteuid() != 0:
        return None
    wanted = str(config.env("IU_PROVE_SERVER_USER"))
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

    @property
    def host(self) -> str:
        """The socket folder: libpq takes a path as the host."""
        return str(self.sockdir)

    def _run(self, *args: str, check: bool = True, new_session: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=self.base, start_new_session=new_session, stdin=subprocess.DEVNULL
        )
        if check and proc.returncode != 0:
            raise EmbeddedClusterError(
                f"{' '.join(cmd[-len(args) :][:2])} failed (exit {proc.returncode}): "
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
        self.base = Path(tempfile.mkdtemp(prefix=BASE_PREFIX))
        label = config.env(LABEL_ENV) or ""
        (self.base / OWNER_FILE).write_text(f"{_owner_token(os.getpid())}\n{run_token()}\n{label}\n")
        self.sockdir.mkdir(mode=0o700)
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
            "--auth-local=trust",
            "--auth-host=reject",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--wal-segsize=1",  # 1 MB WAL segments: a small data directory to cache and copy
        )
        conf = "\n".join(f"{k} = '{v}'" for k, v in SERVER_SETTINGS.items())
        with open(self.datadir / "postgresql.auto.conf", "a") as fh:
            fh.write("\n" + conf + "\n")
        # The run's superuser is trusted on the private socket; other roles give a password.
        hba = f"local all {self.user} trust\nlocal all all scram-sha-256\n"
        self._write_as_server_user(self.datadir / "pg_hba.conf", hba)

    def _write_as_server_user(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o600)

    def init_from(self, datadir: Path) -> None:
        """A new cluster whose data directory is a copy of a stopped one (the template cache)."""
        from iu_prove import template_cache

        self._make_base()
        template_cache.restore(datadir, self.datadir)

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
            new_session=True,
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
        """Stop the server if it runs and delete every file of the cluster (no shutdown
        checkpoint: nothing of it is kept)."""
        if self.base is None:
            return
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        cred = user or self.user
        if password:
            cred += ":" + quote(password, safe="")
        return f"postgresql://{cred}@/{dbname}?host={quote(self.host, safe='/')}&port={self.port}"

    def describe(self) -> str:
        return f"embedded PostgreSQL on socket {self.sockdir} port {self.port}"

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
