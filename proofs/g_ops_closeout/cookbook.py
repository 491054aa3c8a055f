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
* Every executed block is followed (blank lines apart) by a `` ```text expected ``
  block: the lines it prints on a fresh ``make migrate`` database when the
  runbook is followed in order. The output is compared line by line (see
  `compare`): runs of blanks count as one, blank lines are dropped, a psql or
  table rule line (only ``-``, ``+`` and blanks) matches any rule line, a line
  ``...`` stands for any number of lines, and ``{{name}}`` placeholders (see
  `PLACEHOLDERS`) stand for values that change from run to run.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
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
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)(?P<info>[^\n]*)$")
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
    expected: str | None = None  # the text of the ```text expected block under it
    expected_line: int | None = None  # 1-based line of that block's opening fence

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
    """Every fenced block in document order, each command block with the expected
    output written under it; raises on an unclosed fence, a skip without reason
    or an expected block that follows no command block."""
    lines = path.read_text().splitlines()
    source = str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)
    blocks: list[Block] = []
    previous_end = -2  # line index of the previous block's closing fence
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
        text = "\n".join(body) + "\n"
        if lang == "text" and "expected" in match["info"].split():
            adjacent = all(not ln.strip() for ln in lines[previous_end + 1 : i])
            if not blocks or not adjacent or blocks[-1].kind == "other" or blocks[-1].expected is not None:
                raise RunbookFormatError(f"{path.name}:{i + 1}: an expected-output block must follow a command block")
            blocks[-1] = dataclasses.replace(blocks[-1], expected=text, expected_line=i + 1)
            previous_end, i = j, j + 1
            continue
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skip = SKIP.match(lines[k]) if k >= 0 else None
        reason = None
        if skip:
            reason = skip["reason"].strip()
            if not reason:
                raise RunbookFormatError(f"{path.name}:{k + 1}: a cookbook skip marker must give its reason")
        blocks.append(Block(source, i + 1, lang, text, section, reason))
        previous_end, i = j, j + 1
    return blocks


# -- expected output --------------------------------------------------------------
PLACEHOLDERS: dict[str, str] = {
    "ts": r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d(?::?\d\d)?|Z| UTC)?",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "hex": r"[0-9a-f]+",
    "int": r"\d+",
    "runid": r"\d{8}T\d{6}Z-[0-9a-f]+",
    "dsn": r"postgres(?:ql)?://\S+|\w+=\S+(?: \w+=\S+)*",  # a URI or key=value words
    "role": r"\S+",
    "conn": r"-[hpUd] \S+(?: -[hpUd] \S+)*",
    "path": r"\S+",
    "any": r".*?",
}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
ANY_LINES = "..."
RULE = re.compile(r"^[-+ ]*-[-+ ]*$")


def _normal(line: str) -> str:
    line = " ".join(line.split())
    return "---" if RULE.match(line) else line


def output_lines(text: str) -> list[str]:
    """The lines compared: blanks collapsed, blank lines dropped, rule lines as ``---``."""
    return [_normal(ln) for ln in text.splitlines() if ln.strip()]


@functools.lru_cache(maxsize=4096)
def _line_pattern(line: str) -> re.Pattern[str]:
    parts, pos = [], 0
    for m in PLACEHOLDER.finditer(line):
        if m[1] not in PLACEHOLDERS:
            raise RunbookFormatError(f"unknown placeholder {m[0]} (known: {', '.join(PLACEHOLDERS)})")
        parts += [re.escape(line[pos : m.start()]), f"(?:{PLACEHOLDERS[m[1]]})"]
        pos = m.end()
    parts.append(re.escape(line[pos:]))
    return re.compile("".join(parts))


def matches(expected: str, output: str) -> bool:
    """Whether the output has exactly the expected lines (with ``...`` and placeholders)."""
    want, have = output_lines(expected), output_lines(output)

    @functools.cache
    def at(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(have)
        if want[i] == ANY_LINES:
            return at(i + 1, j) or (j < len(have) and at(i, j + 1))
        return j < len(have) and _line_pattern(want[i]).fullmatch(have[j]) is not None and at(i + 1, j + 1)

    return at(0, 0)


def compare(expected: str, output: str, *, context: int = 1, limit: int = 40) -> list[str]:
    """Nothing when the output matches the expected lines; else a unified diff
    (expected → printed) in which a printed line that matches its expected
    pattern is shown as that pattern, so only the differing lines stand out."""
    if matches(expected, output):
        return []
    want, have = output_lines(expected), output_lines(output)
    shown, k = [], 0
    for line in have:
        for i in range(k, len(want)):
            if want[i] != ANY_LINES and _line_pattern(want[i]).fullmatch(line):
                shown.append(want[i])
                k = i + 1
                break
        else:
            shown.append(line)
    diff = list(difflib.unified_diff(want, shown, "expected", "printed", n=context, lineterm=""))
    return diff[:limit] + ([f"… {len(diff) - limit} more diff lines"] if len(diff) > limit else [])


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


_WORKDIRS: dict[Path, Path] = {}


def workdir() -> Path:
    """Where shell blocks run: the checkout, or — when the run reads its ops scripts from
    elsewhere (a script sabotage's copy) — a folder of links to the checkout's entries in
    which ``sql/ops`` is that copy, so a block's ``-f sql/ops/…`` runs what the proofs run."""
    own = paths.ROOT / "sql" / "ops"
    if own == paths.OPS:
        return paths.ROOT
    if paths.OPS not in _WORKDIRS:
        shadow = paths.OPS.parent / "root"
        (shadow / "sql").mkdir(parents=True, exist_ok=True)
        for entry in paths.ROOT.iterdir():
            if entry.name != "sql" and not (shadow / entry.name).exists():
                (shadow / entry.name).symlink_to(entry)
        for entry in (paths.ROOT / "sql").iterdir():
            link = shadow / "sql" / entry.name
            if not link.exists():
                link.symlink_to(paths.OPS if entry == own else entry)
        _WORKDIRS[paths.OPS] = shadow
    return _WORKDIRS[paths.OPS]


def run_sh(block: Block, env: dict[str, str], *, timeout: float = 120) -> Run:
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=workdir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(block, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def shell_env(dsn: str, backup_dir: Path) -> dict[str, str]:
    venv_bin = paths.ROOT / ".venv" / "bin"
    return psql_mod.operator_env(
        IU_PROVE_DSN=dsn,
        IU_BACKUP_DIR=str(backup_dir),
        PATH=f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        PGAPPNAME="iu-prove-cookbook",
    )
