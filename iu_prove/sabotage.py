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

``mode = "script"`` sabotages break an operator's script instead of the
database: the run reads ``sql/ops`` from a copy in which one text of one script
is replaced (it must occur exactly once), the way a developer's edit would::

    [[sabotage]]
    id = "E-4/verify-ignores-drift"
    kills = ["E-4"]
    mode = "script"
    script = "scaleout/verify_batch.sql"
    replace = ["drift <> 0", "drift < 0"]
    description = "verify_batch.sql no longer fails on digest drift."
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from iu_prove import paths
from iu_prove.errors import SetupError

MODES = ("transaction", "database", "script")
IN_PROCESS_MODES = ("transaction", "script")  # modes the registry matrix can run in a shared session
OPS_DIR_ENV = "IU_PROVE_OPS_DIR"  # knob: config.py


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
    script: str = ""  # script mode: the ops script (relative to sql/ops) and the text replaced in it
    replace: tuple[str, str] = ("", "")

    def apply(self, conn) -> None:
        """Run the sabotage's SQL on ``conn`` (the caller commits or rolls back); a script
        sabotage changes nothing in a database."""
        if self.sql:
            conn.execute(self.sql)

    def ops_copy(self) -> Path:
        """:meth:`write_ops` into a new temporary folder (its parent): the caller removes it."""
        return self.write_ops(Path(tempfile.mkdtemp(prefix="iu-prove-ops-")) / "ops")

    def write_ops(self, dest: Path, ops: Path = paths.OPS) -> Path:
        """A copy of ``ops`` at ``dest`` with this script sabotage's replacement made."""
        target = ops / self.script
        if not target.is_file():
            raise SabotageError(f"sabotage {self.id}: no ops script {self.script} under {ops}")
        text = target.read_text()
        old, new = self.replace
        found = text.count(old)
        if found != 1:
            raise SabotageError(f"sabotage {self.id}: {self.script} holds the text to replace {found} times: {old!r}")
        shutil.copytree(ops, dest)
        (dest / self.script).write_text(text.replace(old, new))
        return dest


def registry(directory: Path = paths.SABOTAGES) -> dict[str, Sabotage]:
    found: dict[str, Sabotage] = {}
    for path in sorted(directory.glob("*.toml")):
        for entry in tomllib.loads(path.read_text()).get("sabotage", []):
            try:
                mode = entry.get("mode", "transaction")
                script = mode == "script"
                sab = Sabotage(
                    id=entry["id"],
                    kills=tuple(entry["kills"]),
                    mode=mode,
                    description=entry["description"],
                    sql="" if script else entry["sql"],
                    source=path.name,
                    script=entry["script"] if script else "",
                    replace=tuple(entry["replace"]) if script else ("", ""),
                )
            except KeyError as exc:
                raise SabotageError(f"{path.name}: a sabotage lacks {exc.args[0]!r}: {entry}") from None
            if sab.mode not in MODES:
                raise SabotageError(f"{path.name}: sabotage {sab.id} has mode {sab.mode!r}, not one of {MODES}")
            if script and (len(sab.replace) != 2 or not sab.replace[0] or sab.replace[0] == sab.replace[1]):
                raise SabotageError(f"{path.name}: sabotage {sab.id}: replace must be [old text, another text]")
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
