"""The proof report: ``reports/proof-report.{md,json}``, written on every run.

Test outcomes arrive through ``pytest_runtest_logreport`` (from xdist workers
too: the claim, statement, evidence and failure text travel in each report's
``user_properties``) and are folded into one verdict per claim.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iu_prove import claims as claims_mod
from iu_prove import decisions

PROP_CLAIM = "iu_claim"
PROP_STATEMENT = "iu_statement"
PROP_EVIDENCE = "iu_evidence"
PROP_FAILURE = "iu_failure"


@dataclass
class TestOutcome:
    nodeid: str
    claim: str | None = None
    statement: str = ""
    outcome: str = "passed"  # passed | failed | skipped
    duration_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    skip_reason: str = ""
    location: tuple[str, int] = ("", 0)


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
    if report.failed:
        out.outcome = "failed"
        if not out.failure:
            text = report.longreprtext.strip().splitlines()
            out.failure = "\n".join(text[-15:])
    elif report.skipped and out.outcome != "failed":
        out.outcome = "skipped"
        longrepr = report.longrepr
        out.skip_reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        out.skip_reason = out.skip_reason.removeprefix("Skipped: ")


def claim_verdict(tests: list[TestOutcome]) -> str:
    """Failed if any test failed; proven only if every test passed; else skipped."""
    if any(t.outcome == "failed" for t in tests):
        return "failed"
    if all(t.outcome == "passed" for t in tests):
        return "proven"
    return "skipped"


class ReportCollector:
    """Registered on the controlling process only."""

    def __init__(self, config: pytest.Config, run_info: dict[str, Any]):
        self.config = config
        self.run_info = run_info
        self.outcomes: dict[str, TestOutcome] = {}
        self.started = time.monotonic()

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
        by_claim: dict[str, list[TestOutcome]] = defaultdict(list)
        for out in self.outcomes.values():
            if out.claim:
                by_claim[out.claim].append(out)
        rows = []
        for cid in sorted(by_claim, key=claims_mod.sort_key):
            tests = sorted(by_claim[cid], key=lambda t: t.location)  # statement: the first test in source order
            verdict = claim_verdict(tests)
            evidence: dict[str, Any] = {}
            for t in tests:
                if len(tests) == 1:
                    evidence = dict(t.evidence)
                elif t.evidence:
                    evidence[t.nodeid.split("::")[-1]] = t.evidence
            rows.append(
                {
                    "id": cid,
                    "package": claims_mod.package_of(cid),
                    "statement": next((t.statement for t in tests if t.statement), ""),
                    "verdict": verdict,
                    "evidence": evidence,
                    "duration_s": round(sum(t.duration_s for t in tests), 3),
                    "reason": "; ".join(sorted({t.skip_reason for t in tests if t.skip_reason})),
                    "failures": [{"test": t.nodeid, "text": t.failure} for t in tests if t.outcome == "failed"],
                    "tests": [
                        {"nodeid": t.nodeid, "outcome": t.outcome, "duration_s": round(t.duration_s, 3)} for t in tests
                    ],
                }
            )
        for item in decisions.as_claims():
            rows.append(item)
        return rows

    def other_failures(self) -> list[dict[str, str]]:
        return [
            {"test": o.nodeid, "text": o.failure}
            for o in self.outcomes.values()
            if o.outcome == "failed" and not o.claim
        ]

    def document(self, exitstatus: int) -> dict[str, Any]:
        claim_rows = self.claims()
        residue_info = self.run_info.get("residue") or {}
        residue_found = bool(residue_info.get("differences")) and not residue_info.get("scratch")
        failed = any(c["verdict"] == "failed" for c in claim_rows) or bool(self.other_failures()) or residue_found
        interrupted = exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR)
        n_values = sorted({n for c in claim_rows for n in _n_values(c["evidence"])})
        run = dict(self.run_info)
        run["duration_s"] = round(time.monotonic() - self.started, 2)
        run["exit_status"] = int(exitstatus)
        run["n_exercised"] = {
            "count": len(n_values),
            "min": min(n_values, default=None),
            "max": max(n_values, default=None),
            "values": n_values,
        }
        return {
            "verdict": "failed" if failed or interrupted else "proven",
            "run": run,
            "claims": claim_rows,
            "other_failures": self.other_failures(),
            "mutation": _mutation_summary(self.run_info.get("report_dir", "reports")),
        }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        report_dir = Path(self.run_info.get("report_dir", "reports"))
        report_dir.mkdir(parents=True, exist_ok=True)
        doc = self.document(exitstatus)
        (report_dir / "proof-report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        (report_dir / "proof-report.md").write_text(render_markdown(doc))
        self.written = doc

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int) -> None:
        doc = getattr(self, "written", None)
        if not doc:
            return
        counts: dict[str, int] = defaultdict(int)
        for c in doc["claims"]:
            counts[c["verdict"]] += 1
        summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        terminalreporter.write_sep("=", f"proof report: {doc['verdict'].upper()} ({summary})")
        for c in doc["claims"]:
            if c["verdict"] == "failed":
                terminalreporter.write_line(f"FAILED claim {c['id']}: {c['statement']}")
        terminalreporter.write_line(f"report: {self.run_info.get('report_dir', 'reports')}/proof-report.md")


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
    return {k: data.get(k) for k in ("verdict", "sabotages", "killed", "survived", "generated_at")}


# -- markdown -----------------------------------------------------------------
VERDICT_MARK = {
    "proven": "✅ proven",
    "failed": "❌ failed",
    "skipped": "⏭ skipped",
    "out_of_scope": "⛔ out of scope",
    "awaiting_authority": "⏳ awaiting authority",
}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _evidence_cell(evidence: dict[str, Any]) -> str:
    if not evidence:
        return ""
    parts = []
    for key, value in evidence.items():
        shown = json.dumps(value, ensure_ascii=False, sort_keys=True)
        if len(shown) > 160:
            shown = shown[:157] + "…"
        parts.append(f"`{key}`={shown}")
    return _cell("; ".join(parts))


def render_markdown(doc: dict[str, Any]) -> str:
    run = doc["run"]
    out = [
        "# IU core proof report",
        "",
        f"**Verdict: {doc['verdict'].upper()}**",
        "",
        "| | |",
        "|---|---|",
        f"| target | {run.get('target')} |",
        f"| server | PostgreSQL {run.get('server_version')} |",
        f"| migration head | {run.get('head')} |",
        f"| git revision | {run.get('git_revision')} |",
        f"| Hypothesis profile | {run.get('hypothesis_profile')} |",
        f"| N exercised | {_n_line(run.get('n_exercised') or {})} |",
        f"| sabotage applied | {run.get('sabotage') or 'none'} |",
        f"| duration | {run.get('duration_s')} s |",
        "",
    ]
    by_pkg: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in doc["claims"]:
        by_pkg[c["package"]].append(c)
    for pkg, title in claims_mod.PACKAGES.items():
        rows = by_pkg.get(pkg)
        if not rows:
            continue
        out += [f"## {title}", "", "| id | claim | verdict | evidence |", "|---|---|---|---|"]
        for c in rows:
            out.append(
                f"| {c['id']} | {_cell(c['statement'])} | {VERDICT_MARK.get(c['verdict'], c['verdict'])} "
                f"| {_evidence_cell(c['evidence'])} |"
            )
        out.append("")
    failures = [(c["id"], f) for c in doc["claims"] for f in c.get("failures", [])]
    if failures or doc.get("other_failures"):
        out += ["## Failures", ""]
        for cid, f in failures:
            out += [f"### {cid} — `{f['test']}`", "", "```", f["text"], "```", ""]
        for f in doc.get("other_failures", []):
            out += [f"### `{f['test']}`", "", "```", f["text"], "```", ""]
    residue_info = run.get("residue")
    if residue_info:
        out += ["## Residue", ""]
        if residue_info.get("differences"):
            out += [
                "The target's fingerprint changed during the run:",
                "",
                "```",
                *residue_info["differences"],
                "```",
                "",
            ]
        else:
            out += ["The target's fingerprint (schema objects, row counts, content digests) is unchanged.", ""]
    pins_info = run.get("pins")
    if pins_info:
        out += ["## Pins", ""]
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
        for bump in pins_info.get("bumps", []):
            out += [
                f"Pinned change {bump['from']} → {bump['to']}:",
                "",
                "```",
                *(bump["diff"] or ["(none)"]),
                "```",
                "",
            ]
    pending = [c for c in doc["claims"] if c["verdict"] in ("skipped", "out_of_scope", "awaiting_authority")]
    if pending:
        out += [
            "## Skipped, out of scope, awaiting authority",
            "",
            "| id | item | verdict | reason / check |",
            "|---|---|---|---|",
        ]
        for c in pending:
            out.append(
                f"| {c['id']} | {_cell(c['statement'])} | {VERDICT_MARK[c['verdict']]} | {_cell(c.get('reason', ''))} |"
            )
        out.append("")
    mutation = doc.get("mutation")
    if mutation:
        out += [
            "## Falsifiability (mutation report)",
            "",
            f"{mutation.get('killed')} of {mutation.get('sabotages')} sabotages killed; "
            f"survivors: {', '.join(mutation.get('survived') or []) or 'none'} "
            f"(generated {mutation.get('generated_at')}).",
            "",
        ]
    return "\n".join(out) + "\n"


def _n_line(n: dict[str, Any]) -> str:
    if not n.get("count"):
        return "none"
    return f"{n['count']} distinct values, {n['min']}…{n['max']}"
