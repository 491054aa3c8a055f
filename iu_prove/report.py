"""The proof report: ``reports/proof-report.{md,json}``, written on every run.

Test outcomes arrive through ``pytest_runtest_logreport`` (from xdist workers
too: the claim, statement, evidence and failure text travel in each report's
``user_properties``) and are folded into one verdict per claim. The claims a
run set out to prove come from the catalogue (:mod:`iu_prove.catalogue`), so a
claim that did not run is listed as ``not_run`` with its reason instead of
vanishing. The run's verdict:

* ``proven`` — every claim of the catalogue ran and held (or is an open entry
  of the decision register);
* ``partial`` — nothing failed, but some claims did not run (each listed with
  its reason);
* ``failed`` — a claim failed (or a test outside the claims, or residue);
* ``interrupted`` — a signal, a crashed worker or a dead server ended the run.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from iu_prove import catalogue, decisions, notrun, reportdiff, shard
from iu_prove import claims as claims_mod
from iu_prove.dsn import scrub

if TYPE_CHECKING:
    from iu_prove.runstate import RunState

PROP_CLAIM = "iu_claim"
PROP_STATEMENT = "iu_statement"
PROP_EVIDENCE = "iu_evidence"
PROP_FAILURE = "iu_failure"

RUN_VERDICTS = ("proven", "partial", "failed", "interrupted")
CLAIM_VERDICTS = ("proven", "failed", "not_run", "awaiting_authority", "out_of_scope")
# The suite's exit codes (README "Exit codes").
EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_INCOMPLETE = 0, 1, 2, 3


@dataclass
class TestOutcome:
    nodeid: str
    claim: str | None = None
    statement: str = ""
    outcome: str = "incomplete"  # passed | failed | skipped | incomplete (its call never ended)
    duration_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    skip_kind: str = ""
    skip_reason: str = ""
    location: tuple[str, int] = ("", 0)

    @property
    def key(self) -> str:
        """``file name::function`` — how the catalogue names this test."""
        return _catalogue_key(catalogue.test_key(self.nodeid))


def _fold_phase(out: TestOutcome, report: pytest.TestReport) -> None:
    out.duration_s += report.duration
    out.location = (str(report.location[0]), int(report.location[1] or 0))
    for key, value in report.user_properties:
        if key == PROP_CLAIM:
            out.claim = value
        elif key == PROP_STATEMENT:
            out.statement = value
        elif key == PROP_EVIDENCE:
            out.evidence.update(json.loads(value))
        elif key == PROP_FAILURE and not out.failure:
            out.failure = value
    if report.passed and report.when == "call" and out.outcome == "incomplete":
        out.outcome = "passed"
    if report.failed:
        out.outcome = "failed"
        if not out.failure:
            text = report.longreprtext.strip().splitlines()
            out.failure = "\n".join(text[-15:])
    elif report.skipped and out.outcome != "failed":
        out.outcome = "skipped"
        longrepr = report.longrepr
        text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        out.skip_kind, out.skip_reason = notrun.parse(text)


def _catalogue_key(test: str) -> str:
    """``path::function`` → ``file name::function``: node ids and catalogue entries meet on it."""
    path, _, rest = test.partition("::")
    return f"{Path(path).name}::{rest}"


def fold_claim(
    claim_id: str,
    tests: list[TestOutcome],
    expected: list[str],
    *,
    interrupted: bool,
    filtered_out: bool,
) -> dict[str, Any]:
    """One claim's row: its verdict, why it did not run, its evidence and facts."""
    tests = sorted(tests, key=lambda t: t.location)  # statement and fact: the first test in source order
    passed = {t.key for t in tests if t.outcome == "passed"}
    missing = [k for k in (_catalogue_key(e) for e in expected) if k not in passed]
    skipped = [t for t in tests if t.outcome == "skipped"]
    reasons: list[dict[str, str]] = []
    if any(t.outcome == "failed" for t in tests):
        verdict = "failed"
    elif tests and not skipped and not missing:
        verdict = "proven"
    else:
        verdict = "not_run"
        for t in skipped:
            reasons.append({"kind": t.skip_kind, "reason": t.skip_reason, "test": t.nodeid})
        unreported = [m for m in missing if m not in {t.key for t in skipped}]
        if unreported or not tests:
            if filtered_out:
                kind, text = "filter", "not selected by the run's claim filter or paths"
            elif interrupted:
                kind, text = "interrupted", "the run ended before it ran"
            else:
                kind, text = "filter", "not selected by the run's paths"
            if tests:
                text = f"{len(unreported)} of its tests {'did not run' if interrupted else 'not selected'}"
            reasons.append({"kind": kind, "reason": text, "test": ""})
    evidence: dict[str, Any] = {}
    for t in tests:
        if len(tests) == 1:
            evidence = dict(t.evidence)
        elif t.evidence:
            evidence[t.nodeid.split("::")[-1]] = t.evidence
    failures = [{"test": t.nodeid, "text": t.failure} for t in tests if t.outcome == "failed"]
    return {
        "id": claim_id,
        "package": claims_mod.package_of(claim_id),
        "statement": next((t.statement for t in tests if t.statement), ""),
        "verdict": verdict,
        "fact": deciding_fact(tests, failures),
        "evidence": evidence,
        "duration_s": round(sum(t.duration_s for t in tests), 3),
        "reason": "; ".join(sorted({r["reason"] for r in reasons})),
        "not_run": reasons if verdict == "not_run" else [],
        "failures": failures,
        "tests": [
            {
                "nodeid": t.nodeid,
                "outcome": t.outcome,
                "duration_s": round(t.duration_s, 3),
                "evidence": t.evidence,
                **({"skip": {"kind": t.skip_kind, "reason": t.skip_reason}} if t.outcome == "skipped" else {}),
            }
            for t in tests
        ],
    }


def failed_line(claim: dict[str, Any]) -> str:
    """A failed claim in one line: its id, the test that failed first (not the claim's first test) and the fact."""
    failures = claim.get("failures") or []
    test = failures[0]["test"].split("::")[-1] if failures else ""
    return f"FAILED claim {claim['id']}" + (f" {test}" if test else "") + f": {claim.get('fact', '')}"


def deciding_fact(tests: list[TestOutcome], failures: list[dict[str, str]]) -> str:
    """The one fact a reviewer reads in the claim table (have/want or before → after)."""
    if failures:
        lines = [ln.strip() for ln in failures[0]["text"].splitlines() if ln.strip()]
        have = next((ln.removeprefix("have:").strip() for ln in lines if ln.startswith("have:")), None)
        want = next((ln.removeprefix("want:").strip() for ln in lines if ln.startswith("want:")), None)
        title = lines[0]
        if title.endswith("expectations failed") and len(lines) > 1:  # several: the first one decides
            title = lines[1].split("] ", 1)[-1]
        if have is not None and want is not None:
            return _short(f"{title}: have {have}, want {want}")
        return _short(lines[-1] if lines else "failed")
    for t in tests:
        for name, value in t.evidence.items():
            if isinstance(value, dict) and {"before", "after"} <= set(value):
                delta = value.get("delta")
                sign = "" if delta is None else (f"+{delta} " if delta >= 0 else f"{delta} ")
                return _short(f"{name} {sign}({_plain(value['before'])} → {_plain(value['after'])})")
    for t in tests:
        for name, value in t.evidence.items():
            return _short(f"{name} = {_plain(value)}")
    return ""


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_verdict(claim_rows: list[dict[str, Any]], *, other_failures: bool, residue: bool, interrupted: bool) -> str:
    if interrupted:
        return "interrupted"
    if other_failures or residue or any(c["verdict"] == "failed" for c in claim_rows):
        return "failed"
    ran = [c for c in claim_rows if c["verdict"] not in ("awaiting_authority", "out_of_scope")]
    if not ran or any(c["verdict"] == "not_run" for c in claim_rows):
        return "partial"
    return "proven"


def exit_code(doc: dict[str, Any], signal: int | None = None) -> int:
    """0 proven, or partial by the user's choice; 1 failed; 3 incomplete (environment,
    crash, dead server); 128 + N interrupted by signal N."""
    verdict = doc["verdict"]
    if verdict == "interrupted":
        return 128 + signal if signal else EXIT_INCOMPLETE
    if verdict == "failed":
        return EXIT_FAILED
    if any(not notrun.is_chosen(n["kind"]) for n in doc.get("not_run", [])):
        return EXIT_INCOMPLETE
    return EXIT_OK


class ReportCollector:
    """Registered on the controlling process only."""

    def __init__(self, config: pytest.Config, state: RunState):
        self.config = config
        self.state = state
        self.outcomes: dict[str, TestOutcome] = {}
        self.started = time.monotonic()
        self.written: dict[str, Any] | None = None
        self.baseline: dict[str, Any] | None = None  # --iu-baseline: a previous report to compare with

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        out = self.outcomes.setdefault(report.nodeid, TestOutcome(report.nodeid))
        _fold_phase(out, report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            out = self.outcomes.setdefault(report.nodeid or "<collection>", TestOutcome(report.nodeid))
            out.outcome = "failed"
            out.failure = report.longreprtext.strip()[-2000:]

    # -- folding --------------------------------------------------------------
    def claims(self) -> list[dict[str, Any]]:
        state = self.state
        by_claim: dict[str, list[TestOutcome]] = defaultdict(list)
        for out in self.outcomes.values():
            if out.claim:
                by_claim[out.claim].append(out)
        known = state.catalogue
        collected_keys = {_catalogue_key(catalogue.test_key(n)) for n in state.collected}
        interrupted = state.info.interrupted is not None
        rows = []
        for cid in sorted(set(by_claim) | set(known), key=claims_mod.sort_key):
            entry = known.get(cid)
            expected = entry.tests if entry else []
            filtered_out = (state.claims_filter is not None and cid not in state.claims_filter) or (
                bool(state.collected) and not any(_catalogue_key(e) in collected_keys for e in expected)
            )
            row = fold_claim(cid, by_claim.get(cid, []), expected, interrupted=interrupted, filtered_out=filtered_out)
            if not row["statement"] and entry:
                row["statement"] = entry.statement
            rows.append(row)
        shard.relabel(rows, shard.of(self.config))
        for item in decisions.as_claims():
            item.setdefault("fact", "")
            item.setdefault("not_run", [])
            rows.append(item)
        return rows

    def other_failures(self) -> list[dict[str, str]]:
        return [
            {"test": o.nodeid, "text": o.failure}
            for o in self.outcomes.values()
            if o.outcome == "failed" and not o.claim
        ]

    def document(self) -> dict[str, Any]:
        info = self.state.info
        claim_rows = self.claims()
        residue_info = info.residue or {}
        residue_found = bool(residue_info.get("differences"))
        others = self.other_failures()
        verdict = run_verdict(
            claim_rows, other_failures=bool(others), residue=residue_found, interrupted=info.interrupted is not None
        )
        info.n_exercised = n_summary({n for c in claim_rows for n in _n_values(c["evidence"])})
        info.finished_at = _utc_now()
        info.duration_s = round(time.monotonic() - self.started, 2)
        counts, not_run = tally(claim_rows)
        doc = {
            "verdict": verdict,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "claims_filter": info.claims_filter,
            "interrupted": info.interrupted,
            "counts": counts,
            "not_run": not_run,
            "run": info.as_dict(),
            "claims": claim_rows,
            "other_failures": others,
            "mutation": _mutation_summary(info.report_dir),
        }
        if self.baseline is not None:
            doc["changes"] = reportdiff.changes(self.baseline, doc)
        return scrub(doc)

    def write(self, signal: int | None) -> dict[str, Any]:
        doc = self.document()
        doc["run"]["exit_status"] = self.state.info.exit_status = exit_code(doc, signal)
        report_dir = Path(self.state.info.report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "proof-report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        (report_dir / "proof-report.md").write_text(render_markdown(doc))
        self.written = doc
        return doc

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int) -> None:
        doc = self.written
        if not doc:
            return
        summary = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in doc["counts"].items() if n)
        terminalreporter.write_sep("=", f"proof report: {doc['verdict'].upper()} ({summary})")
        for c in doc["claims"]:
            if c["verdict"] == "failed":
                terminalreporter.write_line(failed_line(c))
        if doc["interrupted"]:
            terminalreporter.write_line(f"INTERRUPTED: {doc['interrupted']}")
        shown = [n for n in doc["not_run"] if n["kind"] == "environment"]
        for n in shown:
            terminalreporter.write_line(f"NOT RUN {n['id']} (environment): {n['reason']}")
        cut = sorted({n["id"] for n in doc["not_run"] if n["kind"] == "interrupted"}, key=claims_mod.sort_key)
        if cut:
            terminalreporter.write_line(f"NOT RUN (interrupted before they ran): {', '.join(cut)}")
        chosen = {n["id"] for n in doc["not_run"] if notrun.is_chosen(n["kind"])} - set(cut)
        if chosen:
            terminalreporter.write_line(
                f"{len(chosen)} claim(s) not run by choice (filter, shard, target, head): see the report"
            )
        terminalreporter.write_line(f"report: {self.state.info.report_dir}/proof-report.md")


def tally(claim_rows: list[dict[str, Any]]) -> tuple[dict[str, int], list[dict[str, str]]]:
    """Counts per claim verdict, and one ``{id, kind, reason}`` per distinct reason a claim did not run."""
    counts = {v: sum(1 for c in claim_rows if c["verdict"] == v) for v in CLAIM_VERDICTS}
    not_run = [
        {"id": c["id"], "kind": r["kind"], "reason": r["reason"]}
        for c in claim_rows
        for r in _distinct_reasons(c.get("not_run", []))
    ]
    return counts, not_run


def _distinct_reasons(reasons: list[dict[str, str]]) -> list[dict[str, str]]:
    seen, out = set(), []
    for r in reasons:
        if (r["kind"], r["reason"]) not in seen:
            seen.add((r["kind"], r["reason"]))
            out.append(r)
    return out


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def refused(report_dir: str, message: str, info: dict[str, Any]) -> None:
    """A run refused before any proof ran: a report that says so (never PROVEN)."""
    path = Path(report_dir)
    path.mkdir(parents=True, exist_ok=True)
    doc = scrub(
        {
            "verdict": "refused",
            "message": message,
            "started_at": info.get("started_at"),
            "finished_at": _utc_now(),
            "claims_filter": info.get("claims_filter"),
            "interrupted": None,
            "counts": {},
            "not_run": [],
            "run": info,
            "claims": [],
            "other_failures": [],
        }
    )
    (path / "proof-report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    (path / "proof-report.md").write_text(
        f"# IU core proof report\n\n**Verdict: REFUSED** — no proof ran.\n\n```\n{doc['message']}\n```\n"
    )


def document_of(claim_rows: list[dict[str, Any]], run: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report document for given claim rows (as a run would write it), e.g. to render them."""
    counts, not_run = tally(claim_rows)
    verdict = run_verdict(claim_rows, other_failures=False, residue=False, interrupted=False)
    return {
        "verdict": verdict,
        "started_at": None,
        "finished_at": None,
        "claims_filter": None,
        "interrupted": None,
        "counts": counts,
        "not_run": not_run,
        "run": run or {},
        "claims": claim_rows,
        "other_failures": [],
        "mutation": None,
    }


def n_summary(values: set[int]) -> dict[str, Any]:
    """The N values a run (or merged runs) exercised: count, range and every value."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "min": min(ordered, default=None),
        "max": max(ordered, default=None),
        "values": ordered,
    }


def _n_values(evidence: Any) -> list[int]:
    found: list[int] = []
    if isinstance(evidence, dict):
        for key, value in evidence.items():
            if key == "N":
                found += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]
            else:
                found += _n_values(value)
    return found


def _mutation_summary(report_dir: str) -> dict[str, Any] | None:
    path = Path(report_dir) / "mutation-report.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    registry = data.get("registry", data)
    killed_by_claim: dict[str, list[str]] = defaultdict(list)
    for row in registry.get("matrix", []):
        for cid in row.get("failed_claims", []):
            if cid in row.get("kills", []):
                killed_by_claim[cid].append(row["sabotage"])
    summary = {k: registry.get(k) for k in ("verdict", "sabotages", "killed", "survived", "generated_at")}
    summary["killed_by_claim"] = dict(killed_by_claim)
    generated = data.get("generated")
    if isinstance(generated, dict):
        summary["generated"] = {k: generated.get(k) for k in ("total", "killed", "survived", "equivalent", "score")}
        summary["generated_by_claim"] = generated.get("by_claim") or {}
    return summary


# -- markdown -----------------------------------------------------------------
VERDICT_MARK = {
    "proven": "✅ proven",
    "failed": "❌ failed",
    "not_run": "⏭ not run",
    "out_of_scope": "⛔ out of scope",
    "awaiting_authority": "⏳ awaiting authority",
}
RUN_MARK = {"proven": "PROVEN", "partial": "PARTIAL", "failed": "FAILED", "interrupted": "INTERRUPTED"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _anchor(claim_id: str) -> str:
    return "claim-" + claim_id.lower()


def render_markdown(doc: dict[str, Any]) -> str:
    sections = [
        _header(doc),
        _changes(doc),
        _shards(doc),
        _failures(doc),
        _claim_table(doc),
        _not_run(doc),
        _claim_sections(doc),
        _residue(doc),
        _pins(doc),
        _mutation(doc),
    ]
    return "\n".join(s for s in sections if s) + "\n"


def _header(doc: dict[str, Any]) -> str:
    run = doc["run"]
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in doc["counts"].items() if n) or "no claims"
    rev = run.get("git_revision") or "unknown"
    dirty = run.get("git_dirty")
    rows = [
        ("claims", counts),
        ("filter", ", ".join(doc["claims_filter"]) if doc.get("claims_filter") else "none (every claim)"),
        ("shard", run.get("shard") or "none"),
        ("target", run.get("target")),
        ("server", f"PostgreSQL {run.get('server_version')}"),
        ("migration head", run.get("head")),
        ("git revision", f"{rev}{' (work tree dirty)' if dirty else ''}"),
        ("Hypothesis profile", run.get("hypothesis_profile")),
        ("N exercised", _n_line(run.get("n_exercised") or {})),
        ("sabotage applied", run.get("sabotage") or "none"),
        ("started / finished (UTC)", f"{doc.get('started_at')} / {doc.get('finished_at')}"),
        ("duration", f"{run.get('duration_s')} s (set-up {run.get('setup_s')} s)"),
    ]
    if run.get("shard") is None:
        rows = [r for r in rows if r[0] != "shard"]
    out = ["# IU core proof report", "", f"**Verdict: {RUN_MARK.get(doc['verdict'], doc['verdict'].upper())}**", ""]
    if doc.get("interrupted"):
        out += [f"The run was interrupted: {doc['interrupted']}.", ""]
    out += ["| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows), ""]
    out += [f"- {note}" for note in run.get("notes") or []]
    if run.get("notes"):
        out.append("")
    return "\n".join(out)


def _changes(doc: dict[str, Any]) -> str:
    """The first section when the run was compared with a baseline (``--iu-baseline``)."""
    return reportdiff.render(doc.get("changes"))


def _shards(doc: dict[str, Any]) -> str:
    """The shards a merged report was made of (``iu-report merge``)."""
    from iu_prove import merge

    return merge.render_section(doc)


def _failures(doc: dict[str, Any]) -> str:
    failures = [(c["id"], f) for c in doc["claims"] for f in c.get("failures", [])]
    if not failures and not doc.get("other_failures"):
        return ""
    out = ["## Failures", ""]
    for cid, f in failures:
        out += [f"### {cid} — `{f['test']}`", "", "```", f["text"], "```", ""]
    for f in doc.get("other_failures", []):
        out += [f"### `{f['test']}`", "", "```", f["text"], "```", ""]
    return "\n".join(out)


def _claim_table(doc: dict[str, Any]) -> str:
    mutation = doc.get("mutation") or {}
    killed = mutation.get("killed_by_claim") or {}
    generated = mutation.get("generated_by_claim") or {}
    head = "| id | claim | verdict | deciding fact | s |"
    rule = "|---|---|---|---|---|"
    if mutation:
        head, rule = head + " sabotages killed | mutants killed |", rule + "---|---|"
    out = []
    by_pkg: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in doc["claims"]:
        if c["verdict"] in ("awaiting_authority", "out_of_scope"):
            continue
        by_pkg[c["package"]].append(c)
    for pkg, title in claims_mod.PACKAGES.items():
        rows = by_pkg.get(pkg)
        if not rows:
            continue
        out += [f"## {title}", "", head, rule]
        for c in rows:
            fact = c.get("fact") or (c.get("reason") if c["verdict"] == "not_run" else "")
            line = (
                f"| [{c['id']}](#{_anchor(c['id'])}) | {_cell(c['statement'])} "
                f"| {VERDICT_MARK.get(c['verdict'], c['verdict'])} | {_cell(fact)} | {c['duration_s']} |"
            )
            if mutation:
                g = generated.get(c["id"]) or {}
                g_text = f"{g.get('killed', 0)}/{g.get('total', 0)}" if g else ""
                line += f" {_cell(', '.join(killed.get(c['id'], [])))} | {g_text} |"
            out.append(line)
        out.append("")
    register = [c for c in doc["claims"] if c["verdict"] in ("awaiting_authority", "out_of_scope")]
    if register:
        out += ["## Decision register", "", "| id | item | verdict | reason / check |", "|---|---|---|---|"]
        for c in register:
            out.append(
                f"| {c['id']} | {_cell(c['statement'])} | {VERDICT_MARK[c['verdict']]} | {_cell(c.get('reason', ''))} |"
            )
        out.append("")
    return "\n".join(out)


def _not_run(doc: dict[str, Any]) -> str:
    if not doc.get("not_run"):
        return ""
    out = ["## Not run", "", "| id | kind | reason |", "|---|---|---|"]
    out += [f"| {n['id']} | {n['kind']} | {_cell(n['reason'])} |" for n in doc["not_run"]]
    return "\n".join([*out, ""])


def _claim_sections(doc: dict[str, Any]) -> str:
    out = ["## Evidence per claim", ""]
    for c in doc["claims"]:
        if c["verdict"] in ("awaiting_authority", "out_of_scope"):
            continue
        out += [f'<a id="{_anchor(c["id"])}"></a>', f"### {c['id']} — {c['statement']}", ""]
        out += [f"Verdict: {VERDICT_MARK.get(c['verdict'], c['verdict'])}. {c.get('reason') or ''}".rstrip(), ""]
        for t in c.get("tests", []):
            out += [f"`{t['nodeid'].split('::', 1)[-1]}` — {t['outcome']}, {t['duration_s']} s", ""]
            if t.get("evidence"):
                out += ["| observation | value |", "|---|---|"]
                out += [f"| {_cell(k)} | {_cell(_value_cell(v))} |" for k, v in t["evidence"].items()]
                out.append("")
    return "\n".join(out)


def _value_cell(value: Any) -> str:
    if isinstance(value, dict) and {"before", "after"} <= set(value):
        delta = value.get("delta")
        return f"{_plain(value['before'])} → {_plain(value['after'])}" + (f" ({delta:+d})" if delta is not None else "")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list) and len(value) > 12:
        return ", ".join(_plain(v) for v in value[:12]) + f", … ({len(value)} in all)"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return _plain(value)


def _residue(doc: dict[str, Any]) -> str:
    residue_info = doc["run"].get("residue")
    if not residue_info:
        return ""
    out = ["## Residue", ""]
    cost = residue_info.get("cost_s")
    if residue_info.get("differences"):
        out += ["The target's fingerprint changed during the run:", "", "```", *residue_info["differences"], "```", ""]
    else:
        out += ["The target's fingerprint (schema objects, row counts, content digests) is unchanged.", ""]
    if cost is not None:
        out += [f"Residue check cost: {cost} s.", ""]
    return "\n".join(out)


def _pins(doc: dict[str, Any]) -> str:
    pins_info = doc["run"].get("pins")
    if not pins_info:
        return ""
    out = ["## Pins", ""]
    out.append(
        f"Inventory at head {pins_info.get('head')}: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in (pins_info.get("counts") or {}).items())
    )
    out.append("")
    if pins_info.get("note"):
        out += [pins_info["note"], ""]
    elif pins_info.get("error"):
        out += [f"Pins problem: {pins_info['error']}", ""]
    elif pins_info.get("diff"):
        out += ["Live inventory differs from the pins:", "", "```", *pins_info["diff"], "```", ""]
    else:
        out += ["Live inventory matches the pins for this head.", ""]
    bump = pins_info.get("bump")
    if bump:
        out += [
            f"What head {bump['to']} changed since {bump['from']}:",
            "",
            "```",
            *(bump["diff"] or ["(none)"]),
            "```",
        ]
        out.append("")
    return "\n".join(out)


def _mutation(doc: dict[str, Any]) -> str:
    mutation = doc.get("mutation")
    if not mutation:
        return ""
    out = [
        "## Falsifiability (mutation report)",
        "",
        f"{mutation.get('killed')} of {mutation.get('sabotages')} sabotages killed; "
        f"survivors: {', '.join(mutation.get('survived') or []) or 'none'} "
        f"(generated {mutation.get('generated_at')}).",
    ]
    generated = mutation.get("generated")
    if generated:
        out.append(
            f"Generated SQL mutants: {generated.get('killed')} of {generated.get('total')} killed, "
            f"{generated.get('equivalent')} equivalent, score {generated.get('score')}."
        )
    return "\n".join([*out, ""])


def _n_line(n: dict[str, Any]) -> str:
    if not n.get("count"):
        return "none"
    return f"{n['count']} distinct values, {n['min']}…{n['max']}"
