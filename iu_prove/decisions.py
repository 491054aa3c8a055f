"""The decision register: items that need an outside authority or are out of
scope appear in the report with their read-only check, never acted upon."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from iu_prove import paths
from iu_prove.errors import SetupError

STATUSES = ("awaiting_authority", "out_of_scope", "decided")


class DecisionRegisterError(SetupError):
    pass


def load(path: Path = paths.DECISIONS) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text()).get("decision", [])
    for entry in entries:
        for key in ("id", "package", "statement", "status"):
            if key not in entry:
                raise DecisionRegisterError(f"{path.name}: decision {entry.get('id', '?')} lacks {key!r}")
        if entry["status"] not in STATUSES:
            raise DecisionRegisterError(f"{path.name}: decision {entry['id']} has status {entry['status']!r}")
        if entry["status"] == "decided" and not entry.get("evidence"):
            raise DecisionRegisterError(f"{path.name}: decision {entry['id']} is decided without evidence")
    return entries


def as_claims(path: Path = paths.DECISIONS) -> list[dict[str, Any]]:
    """Register entries still open, as report rows (decided ones are not claims)."""
    rows = []
    for entry in load(path):
        if entry["status"] == "decided":
            continue
        reason = entry.get("reason", "")
        if entry.get("authority"):
            reason = f"needs {entry['authority']}. {reason}".strip()
        if entry.get("check"):
            reason = f"{reason} Check: `{entry['check']}`".strip()
        rows.append(
            {
                "id": entry["id"],
                "package": entry["package"],
                "statement": entry["statement"],
                "verdict": entry["status"],
                "evidence": entry.get("observed", {}),
                "duration_s": 0.0,
                "reason": reason,
                "failures": [],
                "tests": [],
            }
        )
    return rows
