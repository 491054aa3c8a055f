"""What changed between two proof reports: the report's "Changes since baseline"
section (``--iu-baseline``), its JSON ``changes`` key, and ``iu-report diff``.

A reviewer deciding on a macro reads the difference, not every claim again:

* claims added and removed;
* verdict changes (``proven → failed``);
* each claim's deciding fact that changed (have before → have now); a claim
  proven in both whose deciding fact lists generated inputs (``N = [20, 40,
  …]``, Hypothesis in a randomised profile) is named once, not as a change;
* the pinned inventory: head, objects added / removed, counts, and the live
  inventory's difference from the pins (``run.pins``);
* claims whose duration grew more than 2× (and by at least half a second, so
  millisecond claims do not flap);
* sabotages killed before and surviving now, per claim (the mutation summary's
  ``killed_by_claim``), and sabotages that moved to the survivors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from iu_prove import claims as claims_mod
from iu_prove import pins
from iu_prove.errors import SetupError

_LIST_FACT = re.compile(r"^(?P<name>[^=]+) = \[")
GROWTH_FACTOR = 2.0
GROWTH_FLOOR_S = 0.5
REGISTER = ("awaiting_authority", "out_of_scope")


def load(path: str | Path) -> dict[str, Any]:
    """A proof report (``proof-report.json``) to compare against; refused if it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SetupError(f"{path}: cannot read a proof report ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list) or "verdict" not in doc:
        raise SetupError(f"{path}: not a proof report (no verdict and claims)")
    return doc


def _rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in doc.get("claims", []) if isinstance(c, dict) and "id" in c}


def _sorted(ids) -> list[str]:
    return sorted(ids, key=lambda c: (claims_mod.sort_key(c), c))


def baseline_of(doc: dict[str, Any]) -> dict[str, Any]:
    run = doc.get("run") or {}
    return {
        "git_revision": run.get("git_revision"),
        "date": doc.get("finished_at") or doc.get("started_at"),
        "verdict": doc.get("verdict"),
        "head": run.get("head"),
        "hypothesis_profile": run.get("hypothesis_profile"),
        "shard": run.get("shard"),
    }


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The difference from ``old`` (the baseline) to ``new``."""
    before, now = _rows(old), _rows(new)
    common = _sorted(set(before) & set(now))
    out: dict[str, Any] = {
        "baseline": baseline_of(old),
        "now": baseline_of(new),
        "added": [
            {"id": c, "statement": now[c].get("statement", ""), "verdict": now[c]["verdict"]}
            for c in _sorted(set(now) - set(before))
        ],
        "removed": [
            {"id": c, "statement": before[c].get("statement", ""), "verdict": before[c]["verdict"]}
            for c in _sorted(set(before) - set(now))
        ],
        "verdicts": [
            {"id": c, "before": before[c]["verdict"], "now": now[c]["verdict"]}
            for c in common
            if before[c]["verdict"] != now[c]["verdict"]
        ],
        "facts": [],
        "inputs_varied": [],
        "slower": [],
        "pins": _pins_changes((old.get("run") or {}).get("pins") or {}, (new.get("run") or {}).get("pins") or {}),
        "sabotages": _sabotage_changes(old.get("mutation") or {}, new.get("mutation") or {}),
    }
    for c in common:
        fb, fn = before[c].get("fact") or "", now[c].get("fact") or ""
        if fb == fn or before[c]["verdict"] in REGISTER:
            continue
        if _generated_inputs(before[c], now[c]):
            out["inputs_varied"].append(c)
        else:
            out["facts"].append({"id": c, "before": fb, "now": fn})
    for c in common:
        b, n = float(before[c].get("duration_s") or 0), float(now[c].get("duration_s") or 0)
        if b > 0 and n > GROWTH_FACTOR * b and n - b >= GROWTH_FLOOR_S:
            out["slower"].append({"id": c, "before_s": b, "now_s": n, "factor": round(n / b, 1)})
    out["count"] = (
        sum(len(out[k]) for k in ("added", "removed", "verdicts", "facts", "slower"))
        + sum(len(v) for v in out["pins"].values() if isinstance(v, list))
        + len(out["sabotages"]["lost"])
        + len(out["sabotages"]["now_surviving"])
    )
    out["count"] += int(out["pins"].get("head") is not None)
    return out


def _generated_inputs(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Both runs proved the claim and its deciding fact is the same list observation with other
    values: the inputs Hypothesis generated (``N = [20, 40, 1, …]``), not a changed outcome."""
    if before["verdict"] != "proven" or now["verdict"] != "proven":
        return False
    mb, mn = _LIST_FACT.match(before.get("fact") or ""), _LIST_FACT.match(now.get("fact") or "")
    return bool(mb and mn and mb["name"] == mn["name"])


def _pins_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"head": None, "added": [], "removed": [], "counts": [], "drift": []}
    if old.get("head") != new.get("head") and old.get("head") and new.get("head"):
        result["head"] = {"before": old.get("head"), "now": new.get("head")}
    old_inv, new_inv = old.get("inventory"), new.get("inventory")
    if isinstance(old_inv, dict) and isinstance(new_inv, dict):
        for line in pins.diff(old_inv, new_inv):
            (result["added"] if line.startswith("+") else result["removed"]).append(line[2:])
    old_counts, new_counts = old.get("counts") or {}, new.get("counts") or {}
    for kind in pins.KINDS:
        if kind in old_counts and kind in new_counts and old_counts[kind] != new_counts[kind]:
            result["counts"].append({"kind": kind, "before": old_counts[kind], "now": new_counts[kind]})
    old_drift, new_drift = set(old.get("diff") or []), set(new.get("diff") or [])
    result["drift"] = [f"now {line}" for line in sorted(new_drift - old_drift)] + [
        f"no longer {line}" for line in sorted(old_drift - new_drift)
    ]
    return result


def _killed(summary: dict[str, Any]) -> dict[str, set[str]]:
    return {c: set(v) for c, v in (summary.get("killed_by_claim") or {}).items()}


def _sabotage_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"compared": bool(old and new), "lost": [], "now_surviving": []}
    if not (old and new):
        return result
    before, now = _killed(old), _killed(new)
    for cid in _sorted(before):
        lost = sorted(before[cid] - now.get(cid, set()))
        if lost:
            result["lost"].append({"id": cid, "sabotages": lost})
    killed_before = set().union(*before.values()) if before else set()
    result["now_surviving"] = sorted(killed_before & set(new.get("survived") or []))
    return result


# -- markdown ---------------------------------------------------------------
def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def title(ch: dict[str, Any]) -> str:
    base = ch.get("baseline") or {}
    return f"Changes since baseline ({base.get('git_revision') or 'unknown revision'}, {base.get('date') or 'no date'})"


def render(ch: dict[str, Any] | None, level: int = 2) -> str:
    """The "Changes since baseline" section."""
    if ch is None:
        return ""
    hashes = "#" * level
    base, now = ch.get("baseline") or {}, ch.get("now") or {}
    out = [f"{hashes} {title(ch)}", ""]
    out += [
        f"Baseline verdict {str(base.get('verdict')).upper()} (head {base.get('head')}, profile "
        f"{base.get('hypothesis_profile')}); now {str(now.get('verdict')).upper()} (revision "
        f"{now.get('git_revision')}, head {now.get('head')}, profile {now.get('hypothesis_profile')}).",
        "",
    ]
    if not ch.get("count"):
        return "\n".join([*out, "No change: the same claims, verdicts, deciding facts, pins and sabotages killed.", ""])
    rows: list[tuple[str, str, str, str]] = []
    rows += [(v["id"], "verdict", v["before"], v["now"]) for v in ch.get("verdicts", [])]
    rows += [(f["id"], "deciding fact", f["before"], f["now"]) for f in ch.get("facts", [])]
    rows += [(a["id"], "added", "", f"{a['verdict']}: {a['statement']}") for a in ch.get("added", [])]
    rows += [(r["id"], "removed", f"{r['verdict']}: {r['statement']}", "") for r in ch.get("removed", [])]
    rows += [
        (s["id"], f"duration ×{s['factor']}", f"{s['before_s']} s", f"{s['now_s']} s") for s in ch.get("slower", [])
    ]
    sab = ch.get("sabotages") or {}
    rows += [
        (x["id"], "sabotages no longer killed", ", ".join(x["sabotages"]), "survives") for x in sab.get("lost", [])
    ]
    if rows:
        out += ["| claim | change | before | now |", "|---|---|---|---|"]
        order = {cid: i for i, cid in enumerate(_sorted({r[0] for r in rows}))}
        rows.sort(key=lambda r: order[r[0]])
        out += [f"| {r[0]} | {r[1]} | {_cell(r[2])} | {_cell(r[3])} |" for r in rows]
        out.append("")
    if ch.get("inputs_varied"):
        out += [
            f"Proven before and now with other generated inputs (their deciding fact lists the inputs tried): "
            f"{', '.join(ch['inputs_varied'])}.",
            "",
        ]
    if sab.get("now_surviving"):
        out += [f"Sabotages killed before and surviving now: {', '.join(sab['now_surviving'])}.", ""]
    pins_ch = ch.get("pins") or {}
    lines = []
    if pins_ch.get("head"):
        lines.append(f"~ head {pins_ch['head']['before']} → {pins_ch['head']['now']}")
    lines += [f"+ {x}" for x in pins_ch.get("added", [])]
    lines += [f"- {x}" for x in pins_ch.get("removed", [])]
    lines += [f"~ {c['kind'].replace('_', ' ')} {c['before']} → {c['now']}" for c in pins_ch.get("counts", [])]
    lines += [f"! live inventory against the pins: {d}" for d in pins_ch.get("drift", [])]
    if lines:
        out += ["Pins:", "", "```", *lines, "```", ""]
    return "\n".join(out)
