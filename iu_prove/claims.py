"""Claims: the marker each proof carries, its package, and its proof class."""

from __future__ import annotations

import re

import pytest

from iu_prove import packages

CLAIM_ID = re.compile(r"^(?P<package>[SDEFGXH])-(?P<number>\d+)$")
# Package letters and titles come from the manifest (packages.toml).
PACKAGES = packages.titles()
# What a proof may do to its database, least to most invasive.
PROOF_CLASSES = ("readonly", "rollback", "intrusive", "durable")
VERDICTS = ("proven", "failed", "skipped", "out_of_scope", "awaiting_authority")

MARKERS = [
    "claim(id): the carry-forward claim this test proves, e.g. claim('D-2')",
    "readonly: the proof only reads (catalog and SELECT); its transaction is READ ONLY",
    "rollback: the proof writes inside its rolled-back transaction (the default)",
    "intrusive: the proof takes strong locks (transactional DDL for fault injection)",
    "durable: the proof commits, restarts the server or uses several sessions",
    "head(version): the proof needs migrations up to this head; skipped on a database behind it",
]


class ClaimMarkerError(pytest.UsageError):
    pass


def claim_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("claim")
    if marker is None:
        return None
    if len(marker.args) != 1 or not CLAIM_ID.match(str(marker.args[0])):
        raise ClaimMarkerError(f"{item.nodeid}: claim marker takes one id like 'D-2', got {marker.args!r}")
    return str(marker.args[0])


def package_of(claim_id: str) -> str:
    return claim_id.split("-", 1)[0]


def statement_of(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return first


def proof_class_of(item: pytest.Item) -> str:
    found = [c for c in PROOF_CLASSES if item.get_closest_marker(c)]
    if len(found) > 1:
        raise ClaimMarkerError(f"{item.nodeid}: more than one proof class marker: {', '.join(found)}")
    return found[0] if found else "rollback"


def sort_key(claim_id: str) -> tuple[int, int]:
    match = CLAIM_ID.match(claim_id)
    if not match:
        return (len(PACKAGES), 0)
    return (list(PACKAGES).index(match["package"]), int(match["number"]))
