"""H-7: the shards of a CI matrix merge into one run's verdicts, a lost shard is
never PROVEN, a baseline shows what a change changed, and TAP parses.

Every run here is a child pytest process attached to this run's cluster
(``-p no:xdist``), as a matrix job would run against its own embedded server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from iu_prove import catalogue, nested, notrun, paths, shard

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-7"), pytest.mark.xdist_group("reference")]

SHARDS = 3
SABOTAGE = "D-1/statement-level-trigger"  # transaction mode: kills D-1 and D-7
CLAIMS = "D-1,D-7,S-3"


def iu_report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "iu_prove.cli.report", *args], capture_output=True, text=True, cwd=paths.ROOT
    )


def junit_cases(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return sorted(f"{c.get('classname')}::{c.get('name')}" for c in root.iter("testcase"))


def prove(root: Path, name: str, attach: str, *args: str) -> nested.NestedRun:
    where = root / name
    junit = ["-o", "junit_family=xunit1", f"--junitxml={where / 'junit.xml'}"]
    return nested.run(["proofs", "-p", "no:xdist", "-q", *junit, *args], report_dir=where, attach=attach)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, attach_spec, reference_run):
    """The shared full run, then its three shards (balanced by its durations) side by side."""
    root = tmp_path_factory.mktemp("matrix")
    full, full_dir = reference_run
    durations = str(full_dir / "proof-report.json")
    with ThreadPoolExecutor(max_workers=SHARDS) as pool:
        jobs = [
            pool.submit(
                prove, root, f"reports-{i}", attach_spec, f"--iu-shard={i}/{SHARDS}", "--iu-durations", durations
            )
            for i in range(1, SHARDS + 1)
        ]
        shards = [job.result() for job in jobs]
    return root, full, shards, full_dir


def test_three_shards_merged_give_the_verdicts_of_one_full_run(matrix, evidence):
    """The shards of a matrix, merged, give the verdict of every claim of one full run, and PROVEN only then."""
    root, full, shards, full_dir = matrix
    evidence.record("shard durations_s", [s.report["run"]["duration_s"] for s in shards])
    evidence.record("full run duration_s", full.report["run"]["duration_s"])
    evidence.expect("full run verdict", have=full.report["verdict"], want="proven", rows=full.stdout.splitlines()[-6:])
    for i, s in enumerate(shards, start=1):
        doc = s.report
        evidence.expect(f"shard {i} exit", have=s.returncode, want=0, rows=s.stdout.splitlines()[-6:])
        evidence.expect(
            f"shard {i} verdict and name", have=[doc["verdict"], doc["run"]["shard"]], want=["partial", f"{i}/3"]
        )
        evidence.expect(f"shard {i} not-run kinds", have=sorted({n["kind"] for n in doc["not_run"]}), want=["shard"])
    # All tests of a claim ran in the one shard that owns it.
    ran_in: dict[str, set[int]] = {}
    for i, s in enumerate(shards, start=1):
        for c in s.report["claims"]:
            if any(t["outcome"] != "skipped" for t in c.get("tests", [])):
                ran_in.setdefault(c["id"], set()).add(i)
    evidence.expect_no_rows(
        "claims whose tests ran in more than one shard", [c for c, w in ran_in.items() if len(w) > 1]
    )

    out = root / "merged"
    reports = [str(root / f"reports-{i}" / "proof-report.json") for i in range(1, SHARDS + 1)]
    cli = iu_report("merge", *reports, "--out", str(out))
    merged = json.loads((out / "proof-report.json").read_text())
    evidence.expect("merge exit", have=cli.returncode, want=0, rows=(cli.stdout + cli.stderr).splitlines())
    evidence.expect("merged verdict", have=merged["verdict"], want="proven")
    have = {c["id"]: c["verdict"] for c in merged["claims"]}
    disagreements = [(c, full.verdicts().get(c), have.get(c)) for c in sorted(set(have) | set(full.verdicts()))]
    evidence.expect_no_rows(
        "claims whose merged verdict differs from the full run's (claim, full, merged)",
        [d for d in disagreements if d[1] != d[2]],
    )
    evidence.expect("merged counts", have=merged["counts"], want=full.report["counts"])
    evidence.expect(
        "merged JUnit test cases", have=junit_cases(out / "junit.xml"), want=junit_cases(full_dir / "junit.xml")
    )
    md = (out / "proof-report.md").read_text()
    evidence.expect_true(
        "the header says PROVEN and names the shards", "**Verdict: PROVEN**" in md and "1/3, 2/3, 3/3" in md
    )


def test_a_matrix_with_a_lost_or_doubled_shard_is_never_proven(matrix, evidence):
    """A merge without one shard is PARTIAL (exit 3) naming the shard and its claims; a doubled shard is MISMATCHED."""
    root, _, shards, _ = matrix
    reports = {i: str(root / f"reports-{i}" / "proof-report.json") for i in range(1, SHARDS + 1)}
    lost = iu_report("merge", reports[1], reports[3], "--out", str(root / "lost"))
    doc = json.loads((root / "lost" / "proof-report.json").read_text())
    evidence.expect("exit without shard 2", have=lost.returncode, want=3, rows=(lost.stdout + lost.stderr).splitlines())
    evidence.expect("verdict without shard 2", have=doc["verdict"], want="partial")
    evidence.expect("missing shards", have=doc["merge"]["missing_shards"], want=["2/3"])
    shard2 = sorted(c["id"] for c in shards[1].report["claims"] if c["verdict"] in ("proven", "failed"))
    evidence.expect("claims not run, kind missing", have=sorted(n["id"] for n in doc["not_run"]), want=shard2)
    evidence.expect("not-run kinds", have=sorted({n["kind"] for n in doc["not_run"]}), want=["missing"])
    md = (root / "lost" / "proof-report.md").read_text()
    evidence.expect_true("the report names the missing shard", "shard 2/3 is missing" in md and "PROVEN" not in md)

    twice = iu_report("merge", reports[1], reports[1], reports[2], reports[3], "--out", str(root / "twice"))
    doc = json.loads((root / "twice" / "proof-report.json").read_text())
    evidence.expect("exit with shard 1 twice", have=twice.returncode, want=3)
    evidence.expect("verdict with shard 1 twice", have=doc["verdict"], want="mismatched")
    evidence.expect("doubled shards", have=doc["merge"]["doubled_shards"], want=["1/3"])
    owned = sorted(c["id"] for c in shards[0].report["claims"] if c["verdict"] in ("proven", "failed"))
    evidence.expect("doubled claims", have=sorted(doc["merge"]["doubled_claims"]), want=owned)

    other = json.loads(Path(reports[3]).read_text())
    other["run"]["git_revision"] = "0000000"
    (root / "other").mkdir()
    (root / "other" / "proof-report.json").write_text(json.dumps(other))
    mixed = iu_report(
        "merge", reports[1], reports[2], str(root / "other" / "proof-report.json"), "--out", str(root / "mixed")
    )
    doc = json.loads((root / "mixed" / "proof-report.json").read_text())
    evidence.expect("exit with shards of two revisions", have=mixed.returncode, want=3)
    evidence.expect("verdict with shards of two revisions", have=doc["verdict"], want="mismatched")
    evidence.expect_true("it names the revisions", "0000000" in mixed.stderr, rows=mixed.stderr.splitlines())


def test_the_split_is_deterministic_whole_by_claim_and_balanced(matrix, evidence):
    """Every claim is in exactly one shard, the same on every computation, balanced within the heaviest claim."""
    _, _, _, full_dir = matrix
    cat = catalogue.for_args(["proofs"], paths.ROOT)
    durations = str(full_dir / "proof-report.json")
    plans = [shard.plan(f"{i}/{SHARDS}", cat, durations) for i in range(1, SHARDS + 1)]
    evidence.expect("every shard computes the same split", have=[p.owner for p in plans[1:]], want=[plans[0].owner] * 2)
    owned = sorted(c for p in plans for c in p.claims())
    evidence.expect("claims over all shards", have=owned, want=sorted(cat))
    loads = [plans[0].load(i) for i in range(1, SHARDS + 1)]
    evidence.record("load per shard (s)", loads)
    heaviest = max(plans[0].weights.values())
    evidence.expect_where(
        "spread of the loads", round(max(loads) - min(loads), 3), lambda s: s <= heaviest, f"at most {heaviest}"
    )
    by_count = shard.plan("1/3", cat)
    evidence.expect("without durations: by test count", have=by_count.basis, want="test count")
    evidence.expect(
        "total tests over the shards",
        have=sum(by_count.load(i) for i in (1, 2, 3)),
        want=sum(len(c.tests) for c in cat.values()),
    )


@pytest.fixture(scope="module")
def sabotaged(tmp_path_factory, attach_spec):
    """A run of three claims, then the same with a sabotage, compared with the first as its baseline."""
    root = tmp_path_factory.mktemp("baseline")
    old = prove(root, "old", attach_spec, "--iu-claims", CLAIMS)
    new = prove(
        root,
        "new",
        attach_spec,
        "--iu-claims",
        CLAIMS,
        "--iu-sabotage",
        SABOTAGE,
        "--iu-baseline",
        str(root / "old" / "proof-report.json"),
        "--iu-tap",
        str(root / "new" / "proof-report.tap"),
    )
    return root, old, new


def test_a_baseline_shows_the_verdicts_and_facts_a_sabotage_changed(sabotaged, evidence):
    """A run with --iu-baseline opens with what changed: the verdicts and deciding facts a sabotage broke."""
    root, old, new = sabotaged
    evidence.expect("baseline verdict", have=old.report["verdict"], want="partial", rows=old.stdout.splitlines()[-5:])
    evidence.expect("sabotaged run exit", have=new.returncode, want=1, rows=new.stdout.splitlines()[-5:])
    changes = new.report["changes"]
    evidence.expect(
        "verdict changes",
        have=changes["verdicts"],
        want=[{"id": "D-1", "before": "proven", "now": "failed"}, {"id": "D-7", "before": "proven", "now": "failed"}],
    )
    before = {c["id"]: c["fact"] for c in old.report["claims"]}
    now = {c["id"]: c["fact"] for c in new.report["claims"]}
    facts = {f["id"]: (f["before"], f["now"]) for f in changes["facts"]}
    for cid in ("D-1", "D-7"):
        evidence.expect(f"{cid} deciding fact, before → now", have=facts.get(cid), want=[before[cid], now[cid]])
        evidence.expect_true(f"{cid}: the new fact is the failure's have", ": have " in now[cid], rows=[now[cid]])
    evidence.expect(
        "S-3 unchanged", have=[v for v in changes["verdicts"] + changes["facts"] if v["id"] == "S-3"], want=[]
    )
    md = (root / "new" / "proof-report.md").read_text()
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    rev, date = old.report["run"]["git_revision"], old.report["finished_at"]
    evidence.expect("first section", have=sections[0], want=f"## Changes since baseline ({rev}, {date})")
    evidence.expect_true("the table shows D-1 proven → failed", "| D-1 | verdict | proven | failed |" in md)
    diff = iu_report("diff", str(root / "old" / "proof-report.json"), str(root / "new" / "proof-report.json"))
    evidence.expect("iu-report diff exit", have=diff.returncode, want=0, rows=diff.stderr.splitlines())
    start = md.index("## Changes since baseline")
    section = md[start : md.index("\n## ", start + 1) + 1]
    evidence.expect("iu-report diff prints the same section", have=diff.stdout.strip(), want=section.strip())


def test_the_tap_file_parses_with_a_tap_consumer(sabotaged, evidence):
    """--iu-tap writes one TAP line per claim that Perl's TAP::Parser reads: plan, failures, have/want diagnostics."""
    root, _, new = sabotaged
    if not shutil.which("perl") or subprocess.run(["perl", "-MTAP::Parser", "-e", "1"], capture_output=True).returncode:
        notrun.skip("environment", "Perl's TAP::Parser (the TAP consumer behind `prove`) is not installed")
    script = r"""
        use TAP::Parser; use JSON::PP;
        my $p = TAP::Parser->new({source => $ARGV[0]}); my (@tests, $last);
        while (my $r = $p->next) {
            if ($r->is_test) { $last = {n => $r->number, ok => ($r->is_actual_ok ? 1 : 0),
                                        desc => $r->description, directive => $r->directive};
                               push @tests, $last }
            elsif ($r->is_yaml) { $last->{yaml} = $r->data }
        }
        print JSON::PP->new->canonical->encode({tests => \@tests, plan => $p->plan, failed => [$p->failed],
            errors => [$p->parse_errors], version => $p->version});
    """
    parsed = subprocess.run(
        ["perl", "-e", script, str(root / "new" / "proof-report.tap")], capture_output=True, text=True
    )
    evidence.expect("perl exit", have=parsed.returncode, want=0, rows=parsed.stderr.splitlines())
    tap = json.loads(parsed.stdout)
    claims = new.report["claims"]
    evidence.expect("parse errors", have=tap["errors"], want=[])
    evidence.expect("plan", have=tap["plan"], want=f"1..{len(claims)}")
    evidence.expect(
        "one line per claim, id first",
        have=[t["desc"].split()[1] for t in tap["tests"]],
        want=[c["id"] for c in claims],
    )
    failed = [c["id"] for c in claims if c["verdict"] == "failed"]
    evidence.expect("failed lines", have=[tap["tests"][n - 1]["desc"].split()[1] for n in tap["failed"]], want=failed)
    d1 = next(t for t in tap["tests"] if t["desc"].split()[1] == "D-1")
    evidence.expect(
        "D-1 diagnostics",
        have=sorted(d1.get("yaml", {})),
        want=["duration_s", "have", "observation", "test", "verdict", "want"],
    )
    skipped = {t["desc"].split()[1]: t["directive"] for t in tap["tests"] if t["directive"]}
    evidence.expect("a claim not run is a SKIP", have=skipped.get("S-1"), want="SKIP")
    evidence.expect("an item awaiting authority is a TODO", have=skipped.get("G-PR669"), want="TODO")


def test_a_malformed_shard_is_refused_before_anything_runs(tmp_path, attach_spec, evidence):
    """--iu-shard 4/3 (or anything not I/N) is refused with exit 2 and one line."""
    run = nested.run(
        ["proofs", "-p", "no:xdist", "-q", "--iu-shard=4/3"], report_dir=tmp_path / "r", attach=attach_spec
    )
    lines = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
    evidence.expect("exit", have=run.returncode, want=2, rows=lines)
    evidence.expect("lines printed", have=len(lines), want=1, rows=lines)
    evidence.expect("report verdict", have=(run.report or {}).get("verdict"), want="refused")
