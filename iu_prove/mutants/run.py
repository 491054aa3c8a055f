"""Run the generated mutants in child pytest sessions attached to one cluster.

The shards start together; each builds its share of the coverage map (every
n-th proof), writes it to a file and waits for the others', so the map is
built once per run, in parallel. Each
shard is one serial pytest session (``-p iu_prove.mutants.plugin``) that
re-runs the covering proofs in-process for each of its mutants; their
progress lines (with an ETA) are passed through as they come.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from iu_prove import paths
from iu_prove.target import ATTACH_ENV


def _env(attach: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "IU_PROVE_DSN", ATTACH_ENV))
    }
    env[ATTACH_ENV] = attach
    return env


def _start(args: list[str], attach: str, prefix: str) -> tuple[subprocess.Popen, threading.Thread, list[str]]:
    plugins = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "iu_prove.mutants.plugin"]
    cmd = [sys.executable, "-m", "pytest", *plugins, "-q", *args]
    proc = subprocess.Popen(
        cmd, cwd=paths.ROOT, env=_env(attach), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("iu-mutants:"):
                sys.stderr.write(prefix + line)
                sys.stderr.flush()
            tail.append(line)
            del tail[:-40]

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return proc, thread, tail


def run(
    attach: str,
    *,
    jobs: int = 2,
    sample: int = 0,
    seed: int = 16,
    only: str | None = None,
    max_proofs: int | None = None,
    proofs: list[str] | None = None,
    workdir: Path | None = None,
) -> dict:
    """Every mutant (or a seeded sample) against the covering proofs; the merged results document."""
    with tempfile.TemporaryDirectory(prefix="iu-mutants-") as tmp:
        work = Path(workdir or tmp)
        coverage = work / "coverage.json"
        common = [*(proofs or ["proofs"]), f"--iu-mutants-coverage={coverage}", f"--iu-mutants-seed={seed}"]
        if sample:
            common.append(f"--iu-mutants-sample={sample}")
        if only:
            common.append(f"--iu-mutants-only={only}")
        if max_proofs is not None:
            common.append(f"--iu-mutants-max-proofs={max_proofs}")
        running = []
        for shard in range(jobs):
            args = [
                *common,
                f"--iu-mutants-shard={shard}/{jobs}",
                f"--iu-mutants-out={work / f'shard{shard}.json'}",
                f"--iu-report-dir={work / f'report{shard}'}",
            ]
            running.append(_start(args, attach, f"[{shard + 1}/{jobs}] " if jobs > 1 else ""))
        docs = []
        try:
            # a shard that ends without its results ends the run: the others would wait for its coverage
            while any(proc.poll() is None for proc, _, _ in running):
                if any(
                    proc.poll() is not None and not (work / f"shard{i}.json").exists()
                    for i, (proc, _, _) in enumerate(running)
                ):
                    break
                time.sleep(0.5)
            for _, thread, _ in running:
                thread.join(timeout=5)
        finally:  # stopped (Ctrl-C): no shard outlives the run and its cluster
            for proc, _, _ in running:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)
        for shard, (proc, _, tail) in enumerate(running):
            out = work / f"shard{shard}.json"
            if not out.exists():
                raise RuntimeError(f"mutant shard {shard} exited {proc.returncode} without results:\n{''.join(tail)}")
            docs.append(json.loads(out.read_text()))
        return merge(docs, partial=bool(sample or only))


def merge(docs: list[dict], partial: bool = False) -> dict:
    first = docs[0]
    return {
        "functions": first["functions"],
        "mutants": [m for d in docs for m in d["mutants"]],
        "results": [r for d in docs for r in d["results"]],
        "coverage": first["coverage"],
        "seconds": {
            "coverage": first["seconds"]["coverage"],
            "mutants": max(d["seconds"]["mutants"] for d in docs),
        },
        "functions_not_restored": sum(d["functions_not_restored"] for d in docs),
        "partial": partial,
    }
