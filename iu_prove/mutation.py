"""The falsifiability matrix: every registered sabotage, applied one at a time,
must make each claim it names fail.

``transaction``-mode sabotages run in ``jobs`` serial pytest sessions, each
taking its share in turn in-process (:mod:`iu_prove.mutants.registry`); the
others (``database`` mode, claims with a proof on a private cluster or a nested
run), and any that survive in-process, run in a child pytest run each, attached
to one shared cluster (so no child builds its own), selecting only the claims
it targets. The result is the
``registry`` part of ``mutation-report.{md,json}``: sabotage → claims expected to
fail → claims that did. The ``generated`` part comes from :mod:`iu_prove.mutants`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from iu_prove import nested
from iu_prove.mutants import scripts
from iu_prove.sabotage import IN_PROCESS_MODES, Sabotage, registry


@dataclass
class Outcome:
    sabotage: str
    kills: list[str]
    mode: str
    description: str
    failed_claims: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)  # targeted claims that did not fail
    duration_s: float = 0.0
    error: str = ""

    @property
    def killed(self) -> bool:
        return not self.survivors and not self.error


def run_one(
    sab: Sabotage, attach: str, workdir: Path, extra_args: list[str], sabotage_dir: Path | None = None
) -> Outcome:
    """Run the claims ``sab`` targets with it applied; ``sabotage_dir`` if it is not in the registry."""
    started = time.monotonic()
    report_dir = workdir / sab.id.replace("/", "__")
    if sabotage_dir is not None:
        extra_args = [*extra_args, f"--iu-sabotage-dir={sabotage_dir}"]
    run = nested.run(
        ["proofs", "-p", "no:xdist", "-q", "--iu-sabotage", sab.id, "--iu-claims", ",".join(sab.kills), *extra_args],
        report_dir=report_dir,
        attach=attach,
    )
    verdicts = run.verdicts()
    out = Outcome(sab.id, list(sab.kills), sab.mode, sab.description, duration_s=round(time.monotonic() - started, 2))
    out.failed_claims = sorted(c for c, v in verdicts.items() if v == "failed")
    out.survivors = [c for c in sab.kills if verdicts.get(c) != "failed"]
    if run.report is not None and run.report.get("verdict") == "refused":
        out.error = str(run.report.get("message", "the child run was refused"))
    elif run.report is None:
        out.error = (run.stderr or run.stdout).strip()[-800:] or f"child run exited {run.returncode} without a report"
    else:
        missing = [c for c in sab.kills if c not in verdicts]
        if missing:
            out.error = f"no proof carries claim(s) {', '.join(missing)}"
    return out


def run_all(
    attach: str,
    *,
    only: str | None = None,
    jobs: int = 2,
    extra_args: list[str] | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    sabotages_too: bool = True,
    script_mutants: bool = False,
) -> list[Outcome]:
    """Transaction- and script-mode sabotages in ``jobs`` in-process sessions
    (:mod:`iu_prove.mutants.registry`); the others, and any that survive there, in a child run each.
    ``script_mutants``: also the mutants generated from the ops scripts (:mod:`iu_prove.mutants.scripts`),
    in-process only; ``sabotages_too=False``: those alone."""
    sabotages = [s for s in registry().values() if sabotages_too and (not only or only in s.id)]
    if script_mutants:
        sabotages += [s for s in scripts.generate_all() if not only or only in s.id]
    by_id = {s.id: s for s in sabotages}
    outcomes: dict[str, Outcome] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iu-mutate-") as tmp:
        work = Path(tmp)
        shared = [s.id for s in sabotages if s.mode in IN_PROCESS_MODES]
        children = [s.id for s in sabotages if s.mode not in IN_PROCESS_MODES]
        shards = [shared[i::jobs] for i in range(jobs) if shared[i::jobs]]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_in_process, ids, attach, work, i, progress) for i, ids in enumerate(shards)]
            for future in as_completed(futures):
                done, deferred = future.result()
                children += deferred
                for out in done:
                    final = out.killed or out.error.startswith("the sabotage's SQL")
                    if final or out.sabotage.startswith(scripts.PREFIX):  # a script mutant has no child run
                        outcomes[out.sabotage] = out
                    else:  # confirmed (or not) by a child run with the run's own Hypothesis profile
                        children.append(out.sabotage)
        progress(
            f"registry: {len(outcomes)} sabotages in-process in {time.monotonic() - started:.0f}s; "
            f"{len(children)} in child runs"
        )
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(run_one, by_id[i], attach, work, extra_args or []): i for i in children}
            for done, future in enumerate(as_completed(futures), start=1):
                out = future.result()
                outcomes[out.sabotage] = out
                eta = (time.monotonic() - started) / done * (len(children) - done)
                state = "killed" if out.killed else f"SURVIVED ({out.error or ', '.join(out.survivors)})"
                progress(f"[{done}/{len(children)}] {out.sabotage}: {state} in {out.duration_s:.1f}s — ETA {eta:.0f}s")
    return sorted(outcomes.values(), key=lambda o: o.sabotage)


def _in_process(
    ids: list[str], attach: str, work: Path, shard: int, progress: Callable[[str], None]
) -> tuple[list[Outcome], list[str]]:
    """One serial session running ``ids`` in turn; (outcomes, ids it left to child runs)."""
    from iu_prove.mutants import run as generated_run

    ids_file, out = work / f"registry{shard}.ids.json", work / f"registry{shard}.json"
    ids_file.write_text(json.dumps(ids))
    args = [
        "proofs", f"--iu-mutants-registry={ids_file}", f"--iu-mutants-out={out}",
        f"--iu-report-dir={work / f'registry-report{shard}'}",
    ]  # fmt: skip
    proc, thread, tail = generated_run._start(args, attach, f"[{shard + 1}] ")
    try:
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
    thread.join(timeout=5)
    if not out.exists():  # the session broke: every sabotage of it gets a child run
        progress(f"registry: in-process session {shard + 1} ended without results:\n{''.join(tail)}")
        return [], ids
    doc = json.loads(out.read_text())
    fields = Outcome.__dataclass_fields__
    return [Outcome(**{k: v for k, v in o.items() if k in fields}) for o in doc["outcomes"]], doc["deferred"]


def document(outcomes: list[Outcome]) -> dict:
    survived = [o.sabotage for o in outcomes if not o.killed]
    return {
        "verdict": "failed" if survived or not outcomes else "proven",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sabotages": len(outcomes),
        "killed": len(outcomes) - len(survived),
        "survived": survived,
        "matrix": [asdict(o) | {"killed": o.killed} for o in outcomes],
    }


def registry_markdown(doc: dict, outcomes: list[Outcome]) -> list[str]:
    lines = [
        "## Registry: every claim can fail",
        "",
        f"**{doc['killed']} of {doc['sabotages']} sabotages killed** — verdict {doc['verdict'].upper()}",
        "",
        "| sabotage | mode | claims expected to fail | claims that failed | result |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        result = "killed" if o.killed else f"**survived** {o.error or ', '.join(o.survivors)}"
        lines.append(
            f"| `{o.sabotage}` — {o.description} | {o.mode} | {', '.join(o.kills)} "
            f"| {', '.join(o.failed_claims) or '—'} | {result} |"
        )
    return lines


def scripts_document(outcomes: list[Outcome]) -> dict:
    """The ops-script mutants: counts, score, the survivors (with their one-line diff) per script."""
    per_script: dict[str, dict] = {}
    for o in outcomes:
        script = o.sabotage[len(scripts.PREFIX) :].rsplit("/", 2)[0]
        row = per_script.setdefault(script, {"script": script, "mutants": 0, "killed": 0, "survived": []})
        row["mutants"] += 1
        if o.killed:
            row["killed"] += 1
        else:
            row["survived"].append({"id": o.sabotage, "diff": o.description, "claims": o.kills, "error": o.error})
    total, killed = len(outcomes), sum(o.killed for o in outcomes)
    return {
        "mutants": total,
        "killed": killed,
        "score": round(killed / total, 4) if total else None,
        "by_script": sorted(per_script.values(), key=lambda r: r["script"]),
    }


def scripts_markdown(doc: dict) -> list[str]:
    score = "—" if doc["score"] is None else f"{doc['score'] * 100:.1f}%"
    lines = [
        "## Generated ops-script mutants",
        "",
        f"**{doc['killed']} of {doc['mutants']} killed — score {score}** (each a copy of `sql/ops` with one edit, "
        "run against the claims whose proofs name the script)",
        "",
        "| script | mutants | killed |",
        "|---|---|---|",
    ]
    lines += [f"| `{r['script']}` | {r['mutants']} | {r['killed']} |" for r in doc["by_script"]]
    survivors = [s for r in doc["by_script"] for s in r["survived"]]
    if survivors:
        lines += ["", "### Survivors", ""]
        lines += [f"- `{s['id']}` ({', '.join(s['claims']) or s['error']}): `{s['diff']}`" for s in survivors]
    return lines


def write(
    outcomes: list[Outcome] | None,
    report_dir: Path,
    generated: dict | None = None,
    script_outcomes: list[Outcome] | None = None,
) -> dict:
    """mutation-report.{md,json}: the registry matrix, the generated mutants' scores and the ops-script
    mutants (any may be absent)."""
    from iu_prove.mutants import report as generated_report

    doc: dict = {"generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    lines = ["# Mutation report", ""]
    if generated is not None:
        doc["generated"] = generated
        lines += [*generated_report.markdown(generated), ""]
    if script_outcomes is not None:
        doc["scripts"] = scripts_document(script_outcomes)
        lines += [*scripts_markdown(doc["scripts"]), ""]
    if outcomes is not None:
        doc["registry"] = document(outcomes)
        # the registry's summary also at the top, where readers of the earlier shape look for it
        doc.update({k: doc["registry"][k] for k in ("verdict", "sabotages", "killed", "survived")})
        lines += registry_markdown(doc["registry"], outcomes)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "mutation-report.json").write_text(json.dumps(doc, indent=2) + "\n")
    (report_dir / "mutation-report.md").write_text("\n".join(lines) + "\n")
    return doc
