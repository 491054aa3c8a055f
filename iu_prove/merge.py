"""One report from the shards of a CI matrix (``iu-report merge``).

Each shard's ``proof-report.json`` lists every claim of the catalogue: the ones
it ran with their verdicts, the others as not run with kind ``shard``. The
merge takes each claim from the shard that ran it and checks that the reports
form one run:

* the same git revision, migration head, Hypothesis profile, sabotage and
  claim filter, and the same number of shards;
* every shard 1…N present once;
* every claim run by exactly one shard.

The merged verdict: ``interrupted`` when a shard was interrupted;
``mismatched`` when the reports do not form one run (different revisions,
heads, profiles, splits, a shard or a claim given twice); else as for one run:
``failed`` when a claim failed, ``partial`` when claims did not run — a
missing shard's claims are not run with kind ``missing`` — and ``proven``
only when every claim ran once and held. Exit codes: 0 proven (or partial
only for reasons the user chose, as for one run); 1 a claim failed; 3
interrupted, mismatched or shards missing.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from iu_prove import claims as claims_mod
from iu_prove import reportdiff, shard, tap
from iu_prove.report import (
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    exit_code,
    n_summary,
    render_markdown,
    run_verdict,
    tally,
)

REGISTER = ("awaiting_authority", "out_of_scope")
# What the shards of one run must agree on: (where, key, words).
SAME = (
    ("run", "git_revision", "git revision"),
    ("run", "head", "migration head"),
    ("run", "hypothesis_profile", "Hypothesis profile"),
    ("run", "sabotage", "sabotage"),
    ("doc", "claims_filter", "claim filter"),
)


def _shard_of(doc: dict[str, Any]) -> tuple[int, int]:
    text = (doc.get("run") or {}).get("shard")
    if not text:
        return 1, 1  # a whole run: one shard of one
    try:
        return shard.parse(text)
    except Exception:
        return 0, 0


def _owned(row: dict[str, Any]) -> bool:
    """Whether the shard that wrote this row ran (or was meant to run) the claim."""
    if row.get("verdict") != "not_run":
        return True
    reasons = row.get("not_run") or []
    return not (reasons and all(r.get("kind") == "shard" for r in reasons))


def _worst(rows: list[dict[str, Any]]) -> dict[str, Any]:
    rank = {"failed": 0, "not_run": 1, "proven": 2}
    return min(rows, key=lambda r: rank.get(r["verdict"], 3))


def merge(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The merged report document of (path, shard report) pairs."""
    entries = []
    for path, doc in docs:
        index, total = _shard_of(doc)
        entries.append({"path": path, "doc": doc, "index": index, "total": total})
    entries.sort(key=lambda e: (e["index"], e["path"]))
    names = [f"{e['index']}/{e['total']}" for e in entries]
    problems: list[dict[str, Any]] = []

    totals = Counter(e["total"] for e in entries)
    total = max(totals, key=lambda t: (totals[t], t)) if totals else 0
    if len(totals) > 1 or 0 in totals:
        problems.append(
            {"kind": "mismatched", "text": f"the reports come from different splits: shards {', '.join(names)}"}
        )
    given = Counter(e["index"] for e in entries if e["total"] == total)
    doubled_shards = [f"{i}/{total}" for i, n in sorted(given.items()) if n > 1]
    missing_shards = [f"{i}/{total}" for i in range(1, total + 1) if i not in given]
    for name in doubled_shards:
        paths = [e["path"] for e in entries if f"{e['index']}/{e['total']}" == name]
        problems.append({"kind": "doubled", "text": f"shard {name} is given twice: {', '.join(paths)}"})
    for name in missing_shards:
        problems.append({"kind": "missing", "text": f"shard {name} is missing"})
    for where, key, words in SAME:
        values: dict[str, list[str]] = defaultdict(list)
        for e, name in zip(entries, names, strict=True):
            source = e["doc"] if where == "doc" else e["doc"].get("run") or {}
            values[json.dumps(source.get(key))].append(name)
        if len(values) > 1:
            listing = "; ".join(f"{json.loads(v)} in shard {', '.join(n)}" for v, n in values.items())
            problems.append({"kind": "mismatched", "text": f"the shards differ in {words}: {listing}"})
    for e, name in zip(entries, names, strict=True):
        if e["doc"].get("verdict") == "refused":
            problems.append({"kind": "missing", "text": f"shard {name} was refused: {e['doc'].get('message', '')}"})

    # Claims: each from the shard that ran it.
    owners: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    seen: dict[str, dict[str, Any]] = {}
    register: dict[str, dict[str, Any]] = {}
    for e, name in zip(entries, names, strict=True):
        for row in e["doc"].get("claims") or []:
            if row.get("verdict") in REGISTER:
                register.setdefault(row["id"], row)
                continue
            seen.setdefault(row["id"], row)
            if _owned(row):
                owners[row["id"]].append((name, row))
    rows: list[dict[str, Any]] = []
    missing_claims, doubled_claims = [], []
    doubled_where: dict[str, str] = {}
    for cid in sorted(seen, key=lambda c: (claims_mod.sort_key(c), c)):
        found = owners.get(cid, [])
        if not found:
            row = copy.deepcopy(seen[cid])
            where = next((r["reason"] for r in row.get("not_run") or [] if r.get("kind") == "shard"), "")
            text = f"{where}, which is missing from the merge" if where else "no shard ran it"
            row["verdict"], row["reason"] = "not_run", text
            row["not_run"] = [{"kind": "missing", "reason": text, "test": ""}]
            missing_claims.append(cid)
        else:
            row = copy.deepcopy(_worst([r for _, r in found]))
            if len(found) > 1:
                doubled_claims.append(cid)
                doubled_where[cid] = ", ".join(n for n, _ in found)
            row["shard"] = found[0][0]
        rows.append(row)
    rows += list(register.values())
    if missing_claims:
        problems.append(
            {"kind": "missing", "text": f"{len(missing_claims)} claim(s) ran in no shard: {', '.join(missing_claims)}"}
        )
    if doubled_claims:
        problems.append(
            {
                "kind": "doubled",
                "text": f"{len(doubled_claims)} claim(s) ran in more than one shard: "
                + ", ".join(f"{c} ({doubled_where[c]})" for c in doubled_claims),
            }
        )

    interrupted = [
        f"shard {name}: {e['doc'].get('interrupted')}"
        for e, name in zip(entries, names, strict=True)
        if e["doc"].get("verdict") == "interrupted"
    ]
    residue = any(((e["doc"].get("run") or {}).get("residue") or {}).get("differences") for e in entries)
    others = [
        {**f, "test": f"[shard {name}] {f.get('test', '')}"}
        for e, name in zip(entries, names, strict=True)
        for f in e["doc"].get("other_failures") or []
    ]
    verdict = run_verdict(rows, other_failures=bool(others), residue=residue, interrupted=bool(interrupted))
    if not interrupted and any(p["kind"] in ("mismatched", "doubled") for p in problems):
        verdict = "mismatched"

    first = entries[0]["doc"] if entries else {}
    run = copy.deepcopy(first.get("run") or {})
    run["shard"] = f"merged from {len(entries)} report(s): {', '.join(names)}"
    run["notes"] = [p["text"] for p in problems] + [f"{name}: {n}" for name, n in _shard_notes(entries, names)]
    run["duration_s"] = max((float((e["doc"].get("run") or {}).get("duration_s") or 0) for e in entries), default=0)
    run["n_exercised"] = n_summary(
        {v for e in entries for v in ((e["doc"].get("run") or {}).get("n_exercised") or {}).get("values", [])}
    )
    starts = [e["doc"].get("started_at") for e in entries if e["doc"].get("started_at")]
    ends = [e["doc"].get("finished_at") for e in entries if e["doc"].get("finished_at")]
    counts, not_run = tally(rows)
    doc = {
        "verdict": verdict,
        "started_at": min(starts, default=None),
        "finished_at": max(ends, default=None),
        "claims_filter": first.get("claims_filter"),
        "interrupted": "; ".join(interrupted) or None,
        "counts": counts,
        "not_run": not_run,
        "run": run,
        "claims": rows,
        "other_failures": others,
        "mutation": first.get("mutation"),
        "merge": {
            "shards": [
                {
                    "shard": name,
                    "path": e["path"],
                    "verdict": e["doc"].get("verdict"),
                    "git_revision": (e["doc"].get("run") or {}).get("git_revision"),
                    "head": (e["doc"].get("run") or {}).get("head"),
                    "hypothesis_profile": (e["doc"].get("run") or {}).get("hypothesis_profile"),
                    "claims_run": sum(
                        1 for r in e["doc"].get("claims") or [] if r.get("verdict") in ("proven", "failed")
                    ),
                    "duration_s": (e["doc"].get("run") or {}).get("duration_s"),
                }
                for e, name in zip(entries, names, strict=True)
            ],
            "expected_shards": total,
            "missing_shards": missing_shards,
            "doubled_shards": doubled_shards,
            "missing_claims": missing_claims,
            "doubled_claims": doubled_claims,
            "problems": problems,
        },
    }
    run["exit_status"] = merged_exit(doc)
    return doc


def _shard_notes(entries, names) -> list[tuple[str, str]]:
    notes = []
    for e, name in zip(entries, names, strict=True):
        for note in (e["doc"].get("run") or {}).get("notes") or []:
            if note.startswith("shard "):
                continue  # the shard's own split line: the shards table says it
            notes.append((f"shard {name}", note))
    return notes


def merged_exit(doc: dict[str, Any]) -> int:
    """0 proven (or partial by the user's choice); 1 a claim failed; 3 interrupted,
    mismatched or shards missing."""
    if doc["verdict"] in ("interrupted", "mismatched"):
        return EXIT_INCOMPLETE
    if doc["verdict"] == "failed":
        return EXIT_FAILED
    return exit_code(doc)


def render_section(doc: dict[str, Any]) -> str:
    """The "Shards" section of a merged report."""
    info = doc.get("merge")
    if not info:
        return ""
    out = ["## Shards", ""]
    if info["problems"]:
        out += ["The reports do not form one complete run:", ""]
        out += [f"- {p['kind']}: {p['text']}" for p in info["problems"]]
        out.append("")
    else:
        out += [f"All {info['expected_shards']} shards present, every claim run by exactly one of them.", ""]
    out += [
        "| shard | verdict | claims run | s | revision | head | profile | report |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in info["shards"]:
        out.append(
            f"| {s['shard']} | {str(s['verdict']).upper()} | {s['claims_run']} | {s['duration_s']} "
            f"| {s['git_revision']} | {s['head']} | {s['hypothesis_profile']} | `{s['path']}` |"
        )
    return "\n".join([*out, ""])


# -- JUnit ------------------------------------------------------------------------
def _junit_from_report(name: str, doc: dict[str, Any]) -> ET.Element:
    suite = ET.Element("testsuite", name=f"iu-prove shard {name}")
    counts = Counter()
    for c in doc.get("claims") or []:
        failures = {f["test"]: f["text"] for f in c.get("failures") or []}
        for t in c.get("tests") or []:
            path, _, func = t["nodeid"].rpartition("::")
            case = ET.SubElement(
                suite,
                "testcase",
                classname=path.replace("/", ".").removesuffix(".py"),
                name=func,
                time=str(t["duration_s"]),
            )
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="iu_claim", value=c["id"])
            counts["tests"] += 1
            if t["outcome"] == "failed":
                text = failures.get(t["nodeid"], "")
                ET.SubElement(case, "failure", message=(text.splitlines() or ["failed"])[0]).text = text
                counts["failures"] += 1
            elif t["outcome"] in ("skipped", "incomplete"):
                reason = (t.get("skip") or {}).get("reason") or t["outcome"]
                ET.SubElement(case, "skipped", message=reason)
                counts["skipped"] += 1
    for key in ("tests", "failures", "skipped"):
        suite.set(key, str(counts[key]))
    suite.set("errors", "0")
    return suite


def junit(paths: list[str], docs: list[dict[str, Any]], names: list[str]) -> ET.ElementTree:
    """One JUnit file: each shard's ``junit.xml`` beside its report, or one made from its report."""
    root = ET.Element("testsuites", name="iu-prove merged")
    for path, doc, name in zip(paths, docs, names, strict=True):
        beside = Path(path).parent / "junit.xml"
        suites: list[ET.Element] = []
        if beside.exists():
            try:
                parsed = ET.parse(beside).getroot()
                suites = [parsed] if parsed.tag == "testsuite" else list(parsed.iter("testsuite"))
            except ET.ParseError:
                suites = []
        if not suites:
            suites = [_junit_from_report(name, doc)]
        for suite in suites:
            suite.set("name", f"{suite.get('name', 'pytest')} (shard {name})")
            root.append(suite)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, 0) or 0) for s in root)))
    return ET.ElementTree(root)


def write(
    paths: list[str],
    out_dir: str | Path,
    *,
    baseline: str | None = None,
    tap_path: str | None = None,
) -> dict[str, Any]:
    """Read the shard reports, write ``proof-report.{json,md}`` and ``junit.xml`` into ``out_dir``."""
    loaded = [(str(p), reportdiff.load(p)) for p in paths]
    doc = merge(loaded)
    if baseline:
        doc["changes"] = reportdiff.changes(reportdiff.load(baseline), doc)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "proof-report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    (out / "proof-report.md").write_text(render_markdown(doc))
    by_path = dict(loaded)
    order = [s["path"] for s in doc["merge"]["shards"]]
    names = [s["shard"] for s in doc["merge"]["shards"]]
    tree = junit(order, [by_path[p] for p in order], names)
    ET.indent(tree)
    tree.write(out / "junit.xml", encoding="utf-8", xml_declaration=True)
    if tap_path:
        tap.write(doc, tap_path)
    return doc
