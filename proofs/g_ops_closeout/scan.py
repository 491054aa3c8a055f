"""A static scan for code paths that merge, deploy, push or enable.

"Code" is every file something executes: the Makefile, shell tools, CI
entry points, systemd units, SQL, the Python of the harness, proofs and
tests, and the runbook blocks G-6 executes. Comments are dropped first
(a unit file's comment may tell the operator what to type; it runs nothing).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from iu_prove import paths
from proofs.g_ops_closeout import cookbook

# Rule names and patterns are written so that this file does not match itself.
RULES: dict[str, re.Pattern[str]] = {
    "gh-pr-write": re.compile(r"\bgh\s+pr\s+(merge|close|comment|review|ready|edit)\b"),
    "gh-api-write": re.compile(r"\bgh\s+api\s[^\n]*(-X|--method)\s*['\"]?(PUT|POST|PATCH|DELETE)"),
    "git-publish": re.compile(r"\bgit\s+(push|merge)\b"),
    "unit-enable": re.compile(
        r"\bsystemctl\s+(--?\S+\s+)*(enable|start|restart|reenable|link|unmask)\b|\benable\s+--now\b"
    ),
    "deploy": re.compile(
        r"\b(nuxt|nuxi)\s+(deploy|build|generate)\b|\b(vercel|netlify|fly)\s+deploy\b"
        r"|\bkubectl\s+(apply|rollout|set)\b|\bdocker\s+push\b|\bansible-playbook\s|\brsync\s[^\n]*\bdeploy"
    ),
}
SUFFIXES = {".py", ".sh", ".sql", ".service", ".timer", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".example"}
NAMES = {"Makefile", "run", "conftest.py", "pyproject.toml"}
SKIP_DIRS = {".git", ".venv", ".hypothesis", ".ruff_cache", "__pycache__", "reports", "backups", "build"}
COMMENT = {
    ".py": re.compile(r"(?m)(^|\s)#.*$"),
    ".sql": re.compile(r"--[^\n]*"),
}
HASH_COMMENT = re.compile(r"(?m)^\s*#.*$|\s+#\s.*$")


@dataclass(frozen=True)
class Hit:
    rule: str
    where: str
    text: str

    def row(self) -> list[str]:
        return [self.rule, self.where, self.text]


def repository_paths(root: Path = paths.ROOT) -> list[Path]:
    """Every file, directory and link of the working tree outside tool caches and the venv."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found += [Path(dirpath) / n for n in dirnames + filenames]
    return sorted(found)


def enablement_links(root: Path = paths.ROOT) -> list[str]:
    """systemd enablement artefacts: *.wants/*.requires/*.upholds entries, links to units."""
    return [
        str(p.relative_to(root))
        for p in repository_paths(root)
        if re.search(r"\.(wants|requires|upholds)$", p.name)
        or (p.is_symlink() and p.name.endswith((".timer", ".service")))
    ]


def code_files(root: Path = paths.ROOT) -> list[Path]:
    return [
        p
        for p in repository_paths(root)
        if p.is_file() and (p.suffix in SUFFIXES or p.name in NAMES or p.parent.name == ".ci")
    ]


def _strip_comments(path: Path, text: str) -> str:
    pattern = COMMENT.get(path.suffix, HASH_COMMENT)
    return pattern.sub("", text)


def executed_runbook_blocks() -> list[cookbook.Block]:
    return [b for b in cookbook.extract_all() if b.kind in ("sql", "sh") and b.skip_reason is None]


def hits(files: list[Path]) -> list[Hit]:
    found: list[Hit] = []
    sources = [(str(f.relative_to(paths.ROOT)), _strip_comments(f, f.read_text(errors="replace"))) for f in files]
    sources += [(b.label, b.text) for b in executed_runbook_blocks()]
    for where, text in sources:
        for rule, pattern in RULES.items():
            for match in pattern.finditer(text):
                line = text[: match.start()].count("\n") + 1
                found.append(Hit(rule, f"{where}:{line}", match.group(0)))
    return found
