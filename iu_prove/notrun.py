"""Why a proof did not run, in words the verdict can act on.

A proof that is skipped says why with :func:`skip`; the reason's *kind* decides
what the run's exit code says about it:

* chosen by the user (exit stays 0, verdict PARTIAL): ``filter`` (``--iu-claims``
  or a path), ``shard``, ``target`` (a proof class the target does not allow, or
  a proof that needs the suite's own server), ``head`` (the database is behind
  the proof's migration);
* of the environment (exit 3, verdict PARTIAL): ``environment`` — a missing
  tool, a missing privilege, a server feature. A skip that names no kind
  counts as ``environment``: an unexplained gap is never taken as a choice.
* ``interrupted``: the run ended before the proof ran.
"""

from __future__ import annotations

import re
from typing import NoReturn

import pytest

CHOSEN = ("filter", "shard", "target", "head")
KINDS = (*CHOSEN, "environment", "interrupted")
_TAGGED = re.compile(r"^\[(?P<kind>[a-z]+)\] (?P<reason>.*)$", re.S)


def skip(kind: str, reason: str) -> NoReturn:
    """Skip the running proof with a reason of this kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown not-run kind {kind!r}; use one of {', '.join(KINDS)}")
    pytest.skip(f"[{kind}] {reason}")


def parse(text: str) -> tuple[str, str]:
    """(kind, reason) of a skip message; untagged messages are ``environment``."""
    text = text.removeprefix("Skipped: ").strip()
    match = _TAGGED.match(text)
    if match and match["kind"] in KINDS:
        return match["kind"], match["reason"]
    return "environment", text


def is_chosen(kind: str) -> bool:
    return kind in CHOSEN
