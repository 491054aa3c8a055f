"""Scores of a generated-mutant run, and the equivalent-mutant register.

``fixtures/mutants-equivalent.toml`` declares the mutants that cannot change
behaviour, one reviewed entry each::

    [[equivalent]]
    id = "fn_iu_hc_lineage_orphans/integer/L3-1a2b3c"
    reason = "EXISTS ignores its select list: SELECT 1 and SELECT 2 are the same test"

They are counted apart (``equivalent``) and leave the score's denominator;
nothing is dropped silently. An entry naming a mutant that is no longer
generated is listed as stale.
"""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict
from pathlib import Path

from iu_prove import claims as claims_mod
from iu_prove import paths

EQUIVALENT = paths.ROOT / "fixtures" / "mutants-equivalent.toml"
RANGES = (("001-035", "001", "035"), ("036+", "036", "999"))


class EquivalentError(ValueError):
    pass


def equivalents(path: Path = EQUIVALENT) -> dict[str, str]:
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for entry in tomllib.loads(path.read_text()).get("equivalent", []):
        mid, reason = entry.get("id", ""), str(entry.get("reason", "")).strip()
        if not mid or not reason or "\n" in reason:
            raise EquivalentError(f"{path.name}: every equivalent mutant needs an id and a one-line reason: {entry}")
        if mid in found:
            raise EquivalentError(f"{path.name}: {mid} is declared twice")
        found[mid] = reason
    return found


def _score(killed: int, total: int, equivalent: int) -> float | None:
    return round(killed / (total - equivalent), 4) if total > equivalent else None


def summarise(results_doc: dict, equivalent: dict[str, str] | None = None) -> dict:
    """The ``generated`` part of mutation-report.json."""
    equivalent = equivalents() if equivalent is None else equivalent
    mutants = {m["id"]: m for m in results_doc["mutants"]}
    outcome = {r["id"]: r for r in results_doc["results"]}
    not_compiling = [m for m in mutants.values() if not m["compiles"]]
    compiling = [m for m in mutants.values() if m["compiles"]]
    by_fn: dict[str, dict] = {}
    for f in results_doc["functions"]:
        by_fn[f["signature"]] = {
            "function": f["signature"],
            "migration": f["migration"],
            "total": 0,
            "killed": 0,
            "equivalent": 0,
            "not_compiling": 0,
            "kills_by_claim": Counter(),
            "survived": [],
        }
    for m in not_compiling:
        by_fn[m["function"]]["not_compiling"] += 1
    claims: dict[str, Counter] = defaultdict(Counter)
    harness: list[dict] = []
    for m in compiling:
        row = by_fn[m["function"]]
        row["total"] += 1
        res = outcome.get(m["id"], {})
        if res.get("harness_errors"):
            harness.append({"id": m["id"], "errors": res["harness_errors"]})
        if m["id"] not in equivalent:
            for cid in res.get("covering_claims", []):
                claims[cid]["total"] += 1
        if m["id"] in equivalent:
            row["equivalent"] += 1
        elif res.get("killed_by"):
            row["killed"] += 1
            row["kills_by_claim"][res["claim"]] += 1
            claims[res["claim"]]["killed"] += 1
        else:
            row["survived"].append(
                {
                    "id": m["id"],
                    "diff": m["diff"],
                    "covered": bool(res.get("covered")),
                    "operator": m["operator"],
                    "proofs_run": res.get("proofs_run", 0),
                    "proofs_reaching": res.get("proofs_reaching", res.get("proofs_run", 0)),
                    "claims": res.get("covering_claims", []),
                }
            )
    for row in by_fn.values():
        row["kills_by_claim"] = dict(sorted(row["kills_by_claim"].items()))
        row["score"] = _score(row["killed"], row["total"], row["equivalent"])
    ranges = {}
    for name, low, high in RANGES:
        rows = [r for r in by_fn.values() if low <= r["migration"] <= high]
        k, t, e = (sum(r[x] for r in rows) for x in ("killed", "total", "equivalent"))
        ranges[name] = {"total": t, "killed": k, "survived": t - k - e, "equivalent": e, "score": _score(k, t, e)}
    total = len(compiling)
    killed = sum(r["killed"] for r in by_fn.values())
    eq = sum(r["equivalent"] for r in by_fn.values())
    generated_ids = set(mutants)
    proofs_by_claim: dict[str, int] = Counter(p["claim"] for p in results_doc["coverage"]["proofs"].values())
    return {
        "total": total,
        "killed": killed,
        "survived": total - killed - eq,
        "equivalent": eq,
        "score": _score(killed, total, eq),
        "generated": len(mutants),
        "not_compiling": len(not_compiling),
        "not_covered": sum(1 for r in by_fn.values() for s in r["survived"] if not s["covered"]),
        "by_range": ranges,
        "by_operator": _by_operator(compiling, outcome, equivalent),
        "by_function": sorted(by_fn.values(), key=lambda r: (r["migration"], r["function"])),
        # per claim: the mutants its proofs reach (statement coverage) and how many its proofs
        # killed (a mutant's run stops at the first proof that fails: a kill is the first claim's)
        "by_claim": {
            c: {"total": claims[c]["total"], "killed": claims[c]["killed"], "proofs": proofs_by_claim.get(c, 0)}
            for c in sorted(set(claims) | set(proofs_by_claim), key=claims_mod.sort_key)
        },
        "harness_errors": harness,
        "stale_equivalents": sorted(set(equivalent) - generated_ids) if not results_doc.get("partial") else [],
        "left_out": results_doc["coverage"]["left_out"],
        "failed_unmutated": results_doc["coverage"]["failed"],
        "seconds": results_doc.get("seconds", {}),
    }


def _by_operator(compiling, outcome, equivalent) -> dict[str, dict]:
    rows: dict[str, Counter] = defaultdict(Counter)
    for m in compiling:
        c = rows[m["operator"]]
        c["total"] += 1
        if m["id"] in equivalent:
            c["equivalent"] += 1
        elif outcome.get(m["id"], {}).get("killed_by"):
            c["killed"] += 1
    return {op: dict(c) for op, c in sorted(rows.items())}


def _pct(score: float | None) -> str:
    return "—" if score is None else f"{score * 100:.1f}%"


def markdown(gen: dict) -> list[str]:
    lines = [
        "## Generated mutants",
        "",
        f"**{gen['killed']} of {gen['total'] - gen['equivalent']} killed — score {_pct(gen['score'])}** "
        f"({gen['generated']} generated, {gen['not_compiling']} not compiling and counted apart, "
        f"{gen['equivalent']} equivalent, {gen['survived']} survived of which {gen['not_covered']} "
        "no proof reaches)",
        "",
        "| migrations | mutants | killed | survived | equivalent | score |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in gen["by_range"].items():
        lines.append(
            f"| {name} | {r['total']} | {r['killed']} | {r['survived']} | {r['equivalent']} | {_pct(r['score'])} |"
        )
    lines += ["", "| operator | mutants | killed | equivalent |", "|---|---|---|---|"]
    for op, c in gen["by_operator"].items():
        lines.append(f"| {op} | {c.get('total', 0)} | {c.get('killed', 0)} | {c.get('equivalent', 0)} |")
    lines += [
        "",
        "### Per function",
        "",
        "| migration | function | mutants | killed | survived | equivalent | not compiling | score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in gen["by_function"]:
        lines.append(
            f"| {r['migration']} | `{r['function']}` | {r['total']} | {r['killed']} | {len(r['survived'])} "
            f"| {r['equivalent']} | {r['not_compiling']} | {_pct(r['score'])} |"
        )
    lines += [
        "",
        "### Per claim",
        "",
        "Mutants its proofs reach, and how many its proofs killed (a mutant's run stops at the first failing "
        "proof, cheapest first).",
        "",
        "| claim | mutants reached | killed | proofs |",
        "|---|---|---|---|",
    ]
    for cid, c in gen["by_claim"].items():
        lines.append(f"| {cid} | {c['total']} | {c['killed']} | {c['proofs']} |")
    lines += ["", "### Survivors", ""]
    for r in gen["by_function"]:
        for s in r["survived"]:
            note = (
                f" ({s['proofs_run']} of {s['proofs_reaching']} reaching proofs run; claims {', '.join(s['claims'])})"
                if s["covered"]
                else " *(no proof reaches it)*"
            )
            lines.append(f"- `{s['id']}`{note}: `{s['diff']}`")
    if gen["stale_equivalents"]:
        lines += ["", "### Stale equivalent entries (no such mutant any more)", ""]
        lines += [f"- `{mid}`" for mid in gen["stale_equivalents"]]
    if gen.get("harness_errors"):
        lines += ["", "### Failures that recur without the mutant (never counted as kills)", ""]
        lines += [f"- `{h['id']}`: {'; '.join(h['errors'])}" for h in gen["harness_errors"]]
    lines += ["", "### Left out of mutant runs", ""]
    reasons = Counter(gen["left_out"].values())
    lines += [f"- {n} proof(s): {reason}" for reason, n in sorted(reasons.items())]
    lines += [f"- failed unmutated (left out): `{nodeid}` — {msg}" for nodeid, msg in gen["failed_unmutated"].items()]
    secs = gen.get("seconds", {})
    if secs:
        lines += ["", f"Coverage map {secs.get('coverage', '?')} s, mutants {secs.get('mutants', '?')} s."]
    return lines
