"""The runbook's cookbook: every fenced block of docs/runbook.md, as an
operator would paste it, and how the proofs execute it.

* `` ```sql `` blocks run through real psql inside one transaction that is
  rolled back. A block may carry its own ``BEGIN;`` … ``ROLLBACK;`` (the form
  an operator pastes for a probe); any other transaction control, or a psql
  command that leaves the session (``\\c``, ``\\i``, ``\\!``), is refused.
* `` ```sh ``/`` ```bash ``/`` ```shell `` blocks run with ``bash -euo
  pipefail`` from the repository root with ``$IU_PROVE_DSN`` set.
* A block opts out only with ``<!-- cookbook: skip <reason> -->`` as the last
  non-blank line before its fence; every other block is executed.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from iu_prove import paths
from iu_prove import psql as psql_mod

RUNBOOK = paths.ROOT / "docs" / "runbook.md"
COMPANIONS = "runbook-*.md"  # companion pages the runbook links (docs/runbook-event-boundary.md, …)
SQL_LANGS = {"sql", "psql"}
SH_LANGS = {"sh", "bash", "shell"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*$")
SKIP = re.compile(r"^\s*<!--\s*cookbook:\s*skip\b(?P<reason>.*?)-->\s*$")
MARKER_SETTING = "iu_prove.cookbook_marker"


class RunbookFormatError(AssertionError):
    pass


@dataclass(frozen=True)
class Block:
    source: str  # the page, relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    section: str
    skip_reason: str | None

    @property
    def kind(self) -> str:
        if self.lang in SQL_LANGS:
            return "sql"
        if self.lang in SH_LANGS:
            return "sh"
        return "other"

    @property
    def label(self) -> str:
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        first = next((ln for ln in lines if not re.fullmatch(r"(?i)begin;?", ln)), "")
        return f"{self.source}:{self.line} [{self.section}] {first[:70]}"


def pages() -> list[Path]:
    """docs/runbook.md, then its companion pages in name order."""
    return [RUNBOOK, *sorted(RUNBOOK.parent.glob(COMPANIONS))]


def extract_all() -> list[Block]:
    return [block for page in pages() for block in extract(page)]


def extract(path: Path = RUNBOOK) -> list[Block]:
    """Every fenced block in document order; raises on an unclosed fence or a skip without reason."""
    lines = path.read_text().splitlines()
    source = str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)
    blocks: list[Block] = []
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        match = FENCE.match(line)
        if not match:
            i += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"].lower()
        body: list[str] = []
        j = i + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        while j < len(lines) and not closing.match(lines[j]):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        if j >= len(lines):
            raise RunbookFormatError(f"{path.name}:{i + 1}: fence {fence}{lang} is never closed")
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skip = SKIP.match(lines[k]) if k >= 0 else None
        reason = None
        if skip:
            reason = skip["reason"].strip()
            if not reason:
                raise RunbookFormatError(f"{path.name}:{k + 1}: a cookbook skip marker must give its reason")
        blocks.append(Block(source, i + 1, lang, "\n".join(body) + "\n", section, reason))
        i = j + 1
    return blocks


# -- SQL blocks -----------------------------------------------------------------
_DOLLAR = re.compile(r"\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$", re.S)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_TX_CONTROL = re.compile(
    r"^(BEGIN|COMMIT|END|ROLLBACK|ABORT|START\s+TRANSACTION|PREPARE\s+TRANSACTION|"
    r"COMMIT\s+PREPARED|ROLLBACK\s+PREPARED|SET\s+(SESSION\s+)?CHARACTERISTICS)\b",
    re.I,
)
_LEAVES_SESSION = re.compile(r"^\s*\\(c|connect|i|ir|include|include_relative|!|o|out|w|write)\b", re.M)


def _statements(text: str) -> list[str]:
    stripped = _COMMENT.sub(" ", _QUOTED.sub("''", _DOLLAR.sub("$$ $$", text)))
    no_meta = "\n".join(ln for ln in stripped.splitlines() if not ln.lstrip().startswith("\\"))
    return [s.strip() for s in no_meta.split(";") if s.strip()]


def sql_body(block: Block) -> str:
    """The block without its own outer ``BEGIN;`` … ``ROLLBACK;``; refuses other transaction control."""
    text = block.text
    if _LEAVES_SESSION.search(text):
        raise RunbookFormatError(f"{block.label}: an SQL cookbook block may not \\connect, include files or shell out")
    statements = _statements(text)
    outer = (
        len(statements) >= 2
        and re.fullmatch(r"BEGIN(\s+(TRANSACTION|WORK))?", statements[0], re.I)
        and re.fullmatch(r"ROLLBACK(\s+(TRANSACTION|WORK))?", statements[-1], re.I)
    )
    inner = statements[1:-1] if outer else statements
    bad = [s.split(None, 2)[:2] for s in inner if _TX_CONTROL.match(s)]
    if bad:
        raise RunbookFormatError(
            f"{block.label}: transaction control {bad} inside an SQL cookbook block; "
            "a block is statements, optionally wrapped as BEGIN; … ROLLBACK;"
        )
    if outer:
        text = re.sub(r"^\s*BEGIN(\s+(TRANSACTION|WORK))?\s*;", "", text, count=1, flags=re.I)
        text = re.sub(r"ROLLBACK(\s+(TRANSACTION|WORK))?\s*;\s*$", "", text.rstrip(), count=1, flags=re.I)
    return text.strip() + "\n"


@dataclass
class Run:
    block: Block
    returncode: int
    output: str
    seconds: float

    def as_evidence(self) -> dict:
        return {"block": self.block.label, "exit": self.returncode, "s": round(self.seconds, 2)}


def run_sql(block: Block, dsn: str, *, setup: Sequence[str] = (), timeouts: dict[str, str] | None = None) -> Run:
    """Run one SQL block in a transaction that is rolled back; a block that ends it fails."""
    marker = uuid.uuid4().hex
    parts = ["\\set ON_ERROR_STOP on", "BEGIN;", "\\o /dev/null"]
    parts.append(f"SELECT set_config('{MARKER_SETTING}', '{marker}', true);")
    for name, value in (timeouts or {}).items():
        parts.append(f"SELECT set_config('{name}', '{value}', true);")
    parts += [s.rstrip().rstrip(";") + ";" for s in setup]
    parts += ["\\o", sql_body(block)]
    parts.append(
        f"SELECT current_setting('{MARKER_SETTING}', true) IS NOT DISTINCT FROM '{marker}' AS cookbook_tx_intact \\gset"
    )
    parts += [
        "\\if :cookbook_tx_intact",
        "ROLLBACK;",
        "\\else",
        "\\echo 'cookbook: the block ended the proof transaction'",
        "SELECT 1/0 AS cookbook_transaction_ended;",
        "\\endif",
    ]
    started = time.monotonic()
    result = psql_mod.run(dsn, stdin="\n".join(parts) + "\n", timeout=120)
    return Run(block, result.returncode, result.output, time.monotonic() - started)


def run_sh(block: Block, env: dict[str, str], *, timeout: float = 120) -> Run:
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=paths.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(block, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def shell_env(dsn: str, backup_dir: Path) -> dict[str, str]:
    venv_bin = paths.ROOT / ".venv" / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IU_PROVE_", "IU_HEALTHCHECK_", "PYTEST_", "PG"))}
    env.update(
        IU_PROVE_DSN=dsn,
        IU_BACKUP_DIR=str(backup_dir),
        PATH=f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        PGAPPNAME="iu-prove-cookbook",
    )
    return env
