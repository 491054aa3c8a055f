"""TAP (Test Anything Protocol, version 13) from a proof report: one line per claim.

``ok N - D-2 statement`` for a proven claim, ``not ok`` for a failed one, with
its have/want as a YAML diagnostic block; a claim that did not run is ``ok …
# SKIP reason``; an item awaiting an outside authority is ``not ok … # TODO``
(TAP consumers do not count a TODO as a failure) and an out-of-scope item
``ok … # SKIP out of scope``. Written by ``--iu-tap PATH`` and ``iu-report
merge --tap``; read by ``prove``/``TAP::Parser``, ``tap.py`` and the rest of
the TAP ecosystem that pgTAP users already have.

YAML values are written as double-quoted scalars (or plain numbers) only, the
subset every YAMLish reader accepts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(text, ensure_ascii=False)


def _description(text: str) -> str:
    # '#' starts a directive in TAP; a leading digit would read as a test number.
    return " ".join(str(text).split()).replace("#", "\\#")


def have_want(failure_text: str) -> dict[str, str]:
    """The first failure's observation, have and want (from the evidence's have/want text)."""
    lines = [ln.strip() for ln in failure_text.splitlines() if ln.strip()]
    found: dict[str, str] = {}
    for ln in lines:
        for key in ("have", "want", "note"):
            if ln.startswith(f"{key}:") and key not in found:
                found[key] = ln.removeprefix(f"{key}:").strip()
    if lines and "have" in found:
        found = {"observation": lines[0], **found}
    elif lines:
        found = {"message": lines[-1]}
    return found


def _yaml(fields: dict[str, Any]) -> list[str]:
    out = ["  ---"]
    for key, value in fields.items():
        if value is None or value == "":
            continue
        out.append(f"  {key}: {_scalar(value)}")
    out.append("  ...")
    return out


def render(doc: dict[str, Any]) -> str:
    claims = doc.get("claims") or []
    out = ["TAP version 13", f"1..{len(claims)}"]
    run = doc.get("run") or {}
    out.append(
        f"# IU core proof report: {str(doc.get('verdict')).upper()}, revision {run.get('git_revision')}, "
        f"head {run.get('head')}, profile {run.get('hypothesis_profile')}"
        + (f", shard {run['shard']}" if run.get("shard") else "")
    )
    for n, c in enumerate(claims, start=1):
        desc = _description(f"{c['id']} {c.get('statement') or ''}".strip())
        verdict = c.get("verdict")
        if verdict == "proven":
            out.append(f"ok {n} - {desc}")
            out += _yaml({"verdict": verdict, "fact": c.get("fact"), "duration_s": c.get("duration_s")})
        elif verdict == "failed":
            out.append(f"not ok {n} - {desc}")
            first = (c.get("failures") or [{}])[0]
            fields: dict[str, Any] = {"verdict": verdict, "test": first.get("test")}
            fields.update(have_want(first.get("text") or ""))
            fields["duration_s"] = c.get("duration_s")
            out += _yaml(fields)
        elif verdict == "awaiting_authority":
            out.append(f"not ok {n} - {desc} # TODO awaiting authority: {_description(c.get('reason') or '')}")
        elif verdict == "out_of_scope":
            out.append(f"ok {n} - {desc} # SKIP out of scope: {_description(c.get('reason') or '')}")
        else:
            reasons = c.get("not_run") or []
            kind = reasons[0]["kind"] if reasons else "not run"
            out.append(f"ok {n} - {desc} # SKIP {kind}: {_description(c.get('reason') or 'not run')}")
    return "\n".join(out) + "\n"


def write(doc: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(doc))
    return path
