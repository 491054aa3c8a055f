"""The package manifest (``packages.toml``): for each package its letter,
title, migration head, migrations, proofs folder, ops folder, runbook page,
package page, sabotage file and decisions — the one place that says where a
package's parts live."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from iu_prove import paths
from iu_prove.errors import SetupError

MANIFEST = paths.ROOT / "packages.toml"


class ManifestError(SetupError):
    pass


@dataclass(frozen=True)
class Package:
    letter: str
    title: str
    head: str | None
    migrations: tuple[str, ...]
    proofs: str
    ops: str | None
    runbook: str | None
    page: str
    sabotages: str
    decisions: tuple[str, ...] = ()
    records: tuple[str, ...] = ()
    claim_heads: dict[str, str] = field(default_factory=dict)

    def paths(self) -> list[str]:
        """Every file or folder the manifest names for this package."""
        named = [self.proofs, self.page, self.sabotages, *self.records]
        if self.ops:
            named.append(self.ops)
        if self.runbook:
            named.append(self.runbook.split("#", 1)[0])
        return named

    def head_for(self, claim_id: str) -> str | None:
        """The migration head a claim of this package needs (None: any head)."""
        return self.claim_heads.get(claim_id) or self.head


@functools.cache
def load(path: Path = MANIFEST) -> dict[str, Package]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read the package manifest {path}: {exc}") from None
    found = {}
    for letter, entry in data.get("package", {}).items():
        try:
            found[letter] = Package(
                letter=letter,
                title=entry["title"],
                head=entry.get("head") or None,
                migrations=tuple(entry.get("migrations", [])),
                proofs=entry["proofs"],
                ops=entry.get("ops") or None,
                runbook=entry.get("runbook") or None,
                page=entry["page"],
                sabotages=entry["sabotages"],
                decisions=tuple(entry.get("decisions", [])),
                records=tuple(entry.get("records", [])),
                claim_heads=dict(entry.get("claim_heads", {})),
            )
        except KeyError as exc:
            raise ManifestError(f"{path.name}: package {letter} lacks {exc.args[0]!r}") from None
    return found


def of_claim(claim_id: str) -> Package | None:
    return load().get(claim_id.split("-", 1)[0])


def of_path(path: Path) -> Package | None:
    """The package whose proofs folder holds this file."""
    resolved = path.resolve()
    for package in load().values():
        folder = (paths.ROOT / package.proofs).resolve()
        if folder == resolved or folder in resolved.parents:
            return package
    return None


def head_of(claim_id: str) -> str | None:
    package = of_claim(claim_id)
    return package.head_for(claim_id) if package else None


def titles() -> dict[str, str]:
    return {letter: p.title for letter, p in load().items()}
