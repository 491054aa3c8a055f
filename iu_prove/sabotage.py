"""The sabotage registry: each way of breaking a claim, declared once.

Declarations live in ``fixtures/sabotages/*.toml`` (one file per package)::

    [[sabotage]]
    id = "S-3/envelope-cache-off-by-one"
    kills = ["S-3"]
    mode = "transaction"      # applied after BEGIN in every proof transaction
    description = "The cached DIEU envelope drifts from its pieces."
    sql = "UPDATE iu_three_axis_envelope SET axis_a_count = axis_a_count + 1"

``mode = "database"`` sabotages are committed to a derived template database
that the run's clones are made from (for proofs that use several sessions or
run ops scripts through psql).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from iu_prove import paths
from iu_prove.errors import SetupError

MODES = ("transaction", "database")


class SabotageError(SetupError):
    pass


@dataclass(frozen=True)
class Sabotage:
    id: str
    kills: tuple[str, ...]
    mode: str
    description: str
    sql: str
    source: str

    def apply(self, conn) -> None:
        """Run the sabotage's SQL on ``conn`` (the caller commits or rolls back)."""
        conn.execute(self.sql)


def registry(directory: Path = paths.SABOTAGES) -> dict[str, Sabotage]:
    found: dict[str, Sabotage] = {}
    for path in sorted(directory.glob("*.toml")):
        for entry in tomllib.loads(path.read_text()).get("sabotage", []):
            try:
                sab = Sabotage(
                    id=entry["id"],
                    kills=tuple(entry["kills"]),
                    mode=entry.get("mode", "transaction"),
                    description=entry["description"],
                    sql=entry["sql"],
                    source=path.name,
                )
            except KeyError as exc:
                raise SabotageError(f"{path.name}: a sabotage lacks {exc.args[0]!r}: {entry}") from None
            if sab.mode not in MODES:
                raise SabotageError(f"{path.name}: sabotage {sab.id} has mode {sab.mode!r}, not one of {MODES}")
            if not sab.kills:
                raise SabotageError(f"{path.name}: sabotage {sab.id} names no claim it kills")
            if sab.id in found:
                raise SabotageError(f"sabotage {sab.id} is declared twice ({found[sab.id].source}, {path.name})")
            found[sab.id] = sab
    return found


def get(sabotage_id: str, directory: Path = paths.SABOTAGES) -> Sabotage:
    reg = registry(directory)
    if sabotage_id not in reg:
        raise SabotageError(f"unknown sabotage {sabotage_id!r}; known: {', '.join(sorted(reg)) or 'none'}")
    return reg[sabotage_id]
