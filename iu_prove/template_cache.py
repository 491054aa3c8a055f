"""A cache of the embedded target's built cluster, kept across runs.

Building the embedded target costs ``initdb``, every migration and the
fixtures. When none of their inputs changed, a run copies a stopped cluster's
data directory from the cache instead (``.cache/iu-prove/<key>/data``; `make
clean` removes it) and starts it. The key is the sha256 of everything the built
template depends on:

* every migration file (name and content) and every fixture file;
* the server: its binaries' folder and ``postgres --version``;
* the embedded server's settings and the harness modules that build it
  (``embedded.py``, ``migrations.py``, ``seed.py``, ``target.py``).

A sabotage is never part of a cached cluster: ``database``-mode sabotages are
committed to a template derived at run time, ``transaction``-mode ones run in
each proof's transaction. The cache holds files only (never a running server)
and is never used for a DSN target. A changed input gives a new key, so a stale
cluster is never reused; ``IU_PROVE_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from iu_prove import config, paths

CACHE = paths.ROOT / ".cache" / "iu-prove"
KEEP = 3  # clusters kept; older keys are removed when a new one is stored
_HARNESS = ("embedded.py", "migrations.py", "seed.py", "target.py")


def key(bindir: Path, migrations_dir: Path = paths.MIGRATIONS, seed_dir: Path = paths.SEED) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    for path in sorted(migrations_dir.glob("*.sql")):
        add(f"migration/{path.name}", path.read_bytes())
    for path in sorted(seed_dir.glob("*.sql")):
        add(f"seed/{path.name}", path.read_bytes())
    for name in _HARNESS:
        add(f"harness/{name}", (Path(__file__).parent / name).read_bytes())
    add("bindir", str(bindir).encode())
    version = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    add("server", version.encode())
    return digest.hexdigest()[:24]


def enabled() -> bool:
    return not config.flag("IU_PROVE_NO_CACHE")


def lookup(cache_key: str) -> Path | None:
    """The cached data directory for this key, if one is complete."""
    data = CACHE / cache_key / "data"
    return data if (CACHE / cache_key / "complete").exists() and data.is_dir() else None


def store(cache_key: str, datadir: Path) -> None:
    """Copy a stopped cluster's data directory into the cache (atomically: whole or not at all)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    final = CACHE / cache_key
    if final.exists():
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{cache_key}-", dir=CACHE))
    try:
        _copy(datadir, staging / "data")
        (staging / "complete").write_text("")
        with contextlib.suppress(OSError):  # another run stored the same key first
            staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune()


def restore(cached: Path, datadir: Path) -> None:
    _copy(cached, datadir)


def _copy(src: Path, dst: Path) -> None:
    """Copy a data directory keeping owners and modes (the server refuses anything else)."""
    proc = subprocess.run(["cp", "-a", str(src), str(dst)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise OSError(f"cp -a {src} {dst}: {proc.stderr.strip()}")


def _prune() -> None:
    entries = sorted(
        (p for p in CACHE.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def touch(cache_key: str) -> None:
    """Mark a key as used now (pruning keeps the most recently used)."""
    with contextlib.suppress(OSError):
        os.utime(CACHE / cache_key)
