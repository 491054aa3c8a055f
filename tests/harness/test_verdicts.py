"""The verdict means what it says: PROVEN only when every claim ran and held,
PARTIAL (with each claim's reason) when some did not run, refusals before
anything runs for claim ids that do not exist, and the suite's exit codes."""

import textwrap

import pytest

from iu_prove import nested

pytestmark = [pytest.mark.slow, pytest.mark.claim("H-3")]


def prove(tmp_path, attach_spec, *args):
    return nested.run(["proofs", "-p", "no:xdist", "-q", *args], report_dir=tmp_path / "r", attach=attach_spec)


def test_a_claim_filter_gives_partial_with_every_other_claim_not_run(tmp_path, attach_spec, evidence):
    """`--iu-claims d-2` runs D-2 only: exit 0, verdict partial, every other claim of the head listed as not run."""
    run = prove(tmp_path, attach_spec, "--iu-claims", "d-2")
    doc = run.report
    verdicts = run.verdicts()
    evidence.record("counts", doc["counts"])
    evidence.expect("exit", have=run.returncode, want=0, rows=run.stderr.splitlines()[-5:])
    evidence.expect("verdict", have=doc["verdict"], want="partial")
    evidence.expect("D-2", have=verdicts.get("D-2"), want="proven")
    others = {c: v for c, v in verdicts.items() if c != "D-2" and v not in ("awaiting_authority", "out_of_scope")}
    evidence.expect("other claims all not run", have=sorted(set(others.values())), want=["not_run"])
    evidence.expect_true("the whole catalogue is listed", len(others) >= 40, rows=[len(others)])
    evidence.expect("not-run kinds", have=sorted({n["kind"] for n in doc["not_run"]}), want=["filter"])
    evidence.expect("filter in the JSON", have=doc["claims_filter"], want=["D-2"])
    md = (tmp_path / "r" / "proof-report.md").read_text()
    evidence.expect_true("the header names the filter", "| filter | D-2 |" in md and "PARTIAL" in md)
    evidence.expect_true("PROVEN appears nowhere", "PROVEN" not in md)


@pytest.mark.parametrize("claims", ["Z-9", "D2", "", "S-1,nope"])
def test_an_unknown_or_malformed_claim_id_is_refused_before_anything_runs(tmp_path, attach_spec, claims, evidence):
    """An unknown or malformed id in --iu-claims is refused with exit 2 and one line naming the known ids."""
    run = prove(tmp_path, attach_spec, f"--iu-claims={claims}" if claims else "--iu-claims=,")
    lines = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
    evidence.expect("exit", have=run.returncode, want=2, rows=lines[-5:])
    evidence.expect("lines printed", have=len(lines), want=1, rows=lines)
    evidence.expect_true("the known ids are named", "known ids: S-1, S-2" in lines[0], rows=lines)
    evidence.expect("report verdict", have=(run.report or {}).get("verdict"), want="refused")
    evidence.expect_true("no proof ran", " passed" not in run.stdout)


ENVIRONMENT = '''
import pytest
from iu_prove import notrun

@pytest.mark.claim("S-1")
def test_runs(evidence):
    """Runs."""
    evidence.expect("one", have=1, want=1)

@pytest.mark.claim("S-2")
def test_needs_a_tool():
    """Needs a tool that is missing."""
    notrun.skip("environment", "the frobnicator is not installed")

@pytest.mark.claim("S-3")
def test_chosen():
    """Not for this target."""
    notrun.skip("target", "durable proof on a read-only target")
'''


def test_a_claim_not_run_for_a_reason_of_the_environment_exits_3_and_names_it(tmp_path, attach_spec, evidence):
    """A proof skipped for a missing tool leaves the verdict PARTIAL, names the reason, and exits 3."""
    (tmp_path / "test_env.py").write_text(textwrap.dedent(ENVIRONMENT))
    run = nested.run([str(tmp_path / "test_env.py"), "-p", "no:xdist"], report_dir=tmp_path / "r", attach=attach_spec)
    doc = run.report
    evidence.expect("exit", have=run.returncode, want=3, rows=run.stdout.splitlines()[-6:])
    evidence.expect("verdict", have=doc["verdict"], want="partial")
    evidence.expect(
        "not run",
        have=doc["not_run"],
        want=[
            {"id": "S-2", "kind": "environment", "reason": "the frobnicator is not installed"},
            {"id": "S-3", "kind": "target", "reason": "durable proof on a read-only target"},
        ],
    )
    evidence.expect_true("the terminal names it", "NOT RUN S-2 (environment)" in run.stdout, rows=[run.stdout[-400:]])


def test_a_selection_with_no_test_is_partial_not_pytest_exit_5(tmp_path, attach_spec, evidence):
    """A run whose paths select no test ends PARTIAL with exit 0, never pytest's exit 5."""
    run = nested.run(
        ["proofs/s_substrate/test_migrations.py", "-p", "no:xdist", "-k", "no_such_test_name"],
        report_dir=tmp_path / "r",
        attach=attach_spec,
    )
    evidence.expect("exit", have=run.returncode, want=0, rows=run.stdout.splitlines()[-4:])
    evidence.expect("verdict", have=run.report["verdict"], want="partial")
