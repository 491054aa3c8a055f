"""Shards: one run's claims split over the jobs of a CI matrix (``--iu-shard=I/N``).

The split is by claim (all tests of a claim run in the same shard), read from
the catalogue (:mod:`iu_prove.catalogue`), so every shard of a matrix computes
the same split without talking to the others. Claims are weighed by their
duration in a previous report (``--iu-durations``) or, without one, by their
number of test functions, and dealt out heaviest first to the lightest shard
(ties: the lower claim id, the lower shard number). Given the same proof files
and the same durations file, every shard computes the same split.

A claim of another shard is reported as not run, kind ``shard``; ``iu-report
merge`` (:mod:`iu_prove.merge`) puts the shards' reports back together.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iu_prove import claims as claims_mod
from iu_prove.catalogue import CatalogueClaim
from iu_prove.errors import SetupError

SPEC = re.compile(r"^\s*(?P<index>\d+)\s*/\s*(?P<total>\d+)\s*$")
WORKER_INPUT = "iu_prove_shard"


@dataclass
class Shard:
    index: int  # 1-based
    total: int
    owner: dict[str, int] = field(default_factory=dict)  # claim id -> shard index
    weights: dict[str, float] = field(default_factory=dict)
    basis: str = "test count"

    @property
    def name(self) -> str:
        return f"{self.index}/{self.total}"

    def owns(self, claim_id: str | None) -> bool:
        """Whether this shard runs the claim. Tests outside the catalogue's claims run in shard 1."""
        if claim_id is None or claim_id not in self.owner:
            return self.index == 1
        return self.owner[claim_id] == self.index

    def claims(self, index: int | None = None) -> list[str]:
        index = self.index if index is None else index
        return sorted((c for c, i in self.owner.items() if i == index), key=claims_mod.sort_key)

    def load(self, index: int | None = None) -> float:
        index = self.index if index is None else index
        return round(sum(self.weights[c] for c in self.claims(index)), 3)

    def note(self) -> str:
        unit = " s" if self.basis != "test count" else " tests"
        loads = ", ".join(f"{i}: {self.load(i):g}{unit}" for i in range(1, self.total + 1))
        return (
            f"shard {self.name}: {len(self.claims())} of {len(self.owner)} claims, split by {self.basis} "
            f"(load per shard {loads})"
        )

    def not_run_reason(self, claim_id: str) -> dict[str, str]:
        return {"kind": "shard", "reason": f"runs in shard {self.owner[claim_id]}/{self.total}", "test": ""}

    def to_json(self) -> str:
        return json.dumps({"index": self.index, "total": self.total, "owner": self.owner, "basis": self.basis})

    @classmethod
    def from_json(cls, text: str) -> Shard:
        data = json.loads(text)
        return cls(data["index"], data["total"], dict(data["owner"]), basis=data["basis"])


def parse(text: str) -> tuple[int, int]:
    """``"2/3"`` → (2, 3); anything else is refused."""
    match = SPEC.match(text or "")
    if not match:
        raise SetupError(f"--iu-shard takes I/N (e.g. 2/3), got {text!r}")
    index, total = int(match["index"]), int(match["total"])
    if total < 1 or not 1 <= index <= total:
        raise SetupError(f"--iu-shard {text}: the shard number must be between 1 and {max(total, 1)}")
    return index, total


def durations(path: Path) -> dict[str, float]:
    """Seconds per claim recorded in a previous proof report (claims that ran only)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SetupError(f"--iu-durations {path}: cannot read a proof report ({exc})") from exc
    rows = doc.get("claims") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise SetupError(f"--iu-durations {path}: not a proof report (no claims)")
    return {
        c["id"]: float(c.get("duration_s") or 0.0)
        for c in rows
        if isinstance(c, dict) and c.get("verdict") in ("proven", "failed") and (c.get("duration_s") or 0) > 0
    }


def weigh(catalogue: dict[str, CatalogueClaim], seconds: dict[str, float] | None) -> dict[str, float]:
    """Each claim's weight: its recorded seconds, else its test count (times the mean
    seconds per test of the recorded claims, when there are any)."""
    if not seconds:
        return {cid: float(max(len(c.tests), 1)) for cid, c in catalogue.items()}
    known = [cid for cid in catalogue if cid in seconds]
    tests_known = sum(max(len(catalogue[c].tests), 1) for c in known)
    per_test = sum(seconds[c] for c in known) / tests_known if tests_known else 1.0
    return {cid: seconds.get(cid, per_test * max(len(c.tests), 1)) for cid, c in catalogue.items()}


def split(weights: dict[str, float], total: int) -> dict[str, int]:
    """Claim id → shard index (1-based): heaviest first onto the lightest shard."""
    loads = [0.0] * total
    owner: dict[str, int] = {}
    for cid in sorted(weights, key=lambda c: (-weights[c], claims_mod.sort_key(c), c)):
        lightest = min(range(total), key=lambda i: (loads[i], i))
        loads[lightest] += weights[cid]
        owner[cid] = lightest + 1
    return owner


def plan(
    text: str, catalogue: dict[str, CatalogueClaim], durations_path: str | None = None
) -> Shard:  # the shard this run is
    index, total = parse(text)
    seconds = durations(Path(durations_path)) if durations_path else None
    weights = weigh(catalogue, seconds)
    basis = f"durations in {durations_path}" if seconds else "test count"
    return Shard(index, total, split(weights, total), weights, basis)


# -- the run's shard, kept in the pytest config --------------------------------
STASH = pytest.StashKey["Shard | None"]()


def of(config: pytest.Config) -> Shard | None:
    return config.stash.get(STASH, None)


def configure(config: pytest.Config, catalogue: dict[str, CatalogueClaim], is_worker: bool) -> Shard | None:
    """Read ``--iu-shard``/``--iu-durations`` (controller) or the controller's split (xdist worker)."""
    found: Shard | None = None
    if is_worker:
        text = getattr(config, "workerinput", {}).get(WORKER_INPUT)
        found = Shard.from_json(text) if text else None
    elif config.getoption("iu_shard"):
        found = plan(config.getoption("iu_shard"), catalogue, config.getoption("iu_durations"))
    elif config.getoption("iu_durations"):
        raise SetupError("--iu-durations balances shards: give --iu-shard I/N with it")
    config.stash[STASH] = found
    return found


def relabel(rows: list[dict[str, Any]], shard: Shard | None) -> None:
    """Claims of other shards that did not run here: not run, kind ``shard``."""
    if shard is None:
        return
    for row in rows:
        cid = row["id"]
        if row["verdict"] != "not_run" or cid not in shard.owner or shard.owns(cid):
            continue
        reason = shard.not_run_reason(cid)
        row["not_run"] = [reason]
        row["reason"] = reason["reason"]
