"""The state of one run, shared by the hooks (plugin.py), the fixtures
(``fix_*.py``) and the report: one typed object, imported downward by all.

``RunState`` lives in ``config.stash[STATE]`` of every process of a run;
``RunInfo`` is what the report says about the run (serialised into its JSON).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest

from iu_prove import isolation
from iu_prove.catalogue import CatalogueClaim
from iu_prove.embedded import EmbeddedCluster
from iu_prove.residue import Snapshot
from iu_prove.sabotage import Sabotage
from iu_prove.target import Target


@dataclass
class RunInfo:
    """What the report's header and JSON ``run`` say about the run."""

    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    target: str = ""
    target_kind: str = ""
    server_version: str = ""
    head: str | None = None
    setup_s: float = 0.0
    git_revision: str = "unknown"
    git_dirty: bool | None = None
    hypothesis_profile: str = ""
    sabotage: str | None = None
    report_dir: str = "reports"
    claims_filter: list[str] | None = None
    shard: str | None = None
    interrupted: str | None = None  # why the run ended early, if it did
    exit_status: int = 0
    notes: list[str] = field(default_factory=list)  # one-line remarks shown under the header
    pins: dict[str, Any] = field(default_factory=dict)
    residue: dict[str, Any] | None = None
    n_exercised: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunState:
    """Per-process state of one run."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.cluster: EmbeddedCluster | None = None
        self.target: Target | None = None
        self.sabotage: Sabotage | None = None
        self.claims_filter: set[str] | None = None
        self.catalogue: dict[str, CatalogueClaim] = {}
        self.timeouts = dict(isolation.DEFAULT_TIMEOUTS)
        self.info = RunInfo()
        self.residue_before: Snapshot | None = None
        self.signal: int | None = None  # the signal that interrupted the run
        self.reported = False  # the report is written: a later signal only lets clean-up finish
        self.collected: list[str] = []  # node ids the run set out to run (after deselection)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def shutdown(self) -> None:
        tgt, cluster = self.target, self.cluster
        self.cluster = None
        if tgt is not None and tgt.owned_templates:
            for name in list(tgt.owned_templates):
                with contextlib.suppress(Exception):
                    tgt.janitor(name, as_template=True).drop()
            tgt.owned_templates.clear()
        if cluster is not None:
            cluster.remove()


def worker_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def database_name(purpose: str, beside: str | None = None) -> str:
    """A database name unique to this process of this run: ``iu_<purpose>_<worker>_<pid>``;
    ``<db>_iu_…`` for databases made beside a DSN target's database ``beside`` (cut to 63 bytes)."""
    name = f"iu_{purpose}_{worker_name()}_{os.getpid()}"
    if not beside:
        return name
    return beside.encode()[: 62 - len(name)].decode(errors="ignore") + "_" + name


STATE = pytest.StashKey[RunState]()


def of(config: pytest.Config) -> RunState:
    """The run state of this process."""
    return config.stash[STATE]
