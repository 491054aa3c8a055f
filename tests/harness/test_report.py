"""The proof report: verdicts folded per claim, evidence, have/want, JUnit."""

import json
import textwrap

import pytest

from iu_prove import nested

pytestmark = pytest.mark.slow

PROOFS = '''
import pytest

@pytest.mark.claim("S-1")
def test_one_proven(db, evidence):
    """Claim one holds."""
    evidence.before_after("rows", 3, 4)
    evidence.expect("answer", have=db.execute("select 42").fetchone()[0], want=42)

@pytest.mark.claim("S-2")
def test_two_part_one(db, evidence):
    """Claim two holds."""
    evidence.expect("one", have=1, want=1)

@pytest.mark.claim("S-2")
def test_two_part_two(db, evidence):
    """Claim two holds."""
    evidence.expect("envelope", have=[27, 23, 35], want=[27, 23, 36], rows=[("DIEU", 35)])

@pytest.mark.claim("S-3")
def test_three_skipped():
    """Claim three is skipped."""
    pytest.skip("needs the thing")
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory, attach_spec):
    root = tmp_path_factory.mktemp("report")
    (root / "test_claims.py").write_text(textwrap.dedent(PROOFS))
    return nested.run(
        [
            str(root / "test_claims.py"),
            "-p",
            "no:xdist",
            "-o",
            "junit_family=xunit1",
            f"--junitxml={root / 'reports' / 'junit.xml'}",
        ],
        report_dir=root / "reports",
        attach=attach_spec,
    ), root


def test_a_failing_claim_makes_the_run_fail(run):
    result, _ = run
    assert result.returncode == 1
    assert result.report["verdict"] == "failed"


def test_the_terminal_names_the_test_that_failed_not_the_claims_first_test(run):
    result, _ = run
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("FAILED claim")]
    assert lines == ["FAILED claim S-2 test_two_part_two: envelope: have [27, 23, 35], want [27, 23, 36]"], lines


def test_a_claim_is_proven_only_if_all_its_tests_pass(run):
    result, _ = run
    proofs = {k: v for k, v in result.verdicts().items() if k.startswith("S-")}
    assert proofs == {"S-1": "proven", "S-2": "failed", "S-3": "not_run"}


def test_the_decision_register_appears_as_awaiting_authority_or_out_of_scope(run):
    result, _ = run
    register = {k: v for k, v in result.verdicts().items() if not k.startswith("S-")}
    assert register and set(register.values()) <= {"awaiting_authority", "out_of_scope"}


def test_evidence_and_have_want_reach_the_json_and_markdown(run):
    result, root = run
    claims = {c["id"]: c for c in result.report["claims"]}
    assert claims["S-1"]["evidence"] == {"rows": {"before": 3, "after": 4, "delta": 1}, "answer": 42}
    assert claims["S-1"]["statement"] == "Claim one holds."
    failure = claims["S-2"]["failures"][0]["text"]
    assert "have: [27, 23, 35]" in failure and "want: [27, 23, 36]" in failure and '["DIEU", 35]' in failure
    assert claims["S-3"]["reason"] == "needs the thing"
    md = (root / "reports" / "proof-report.md").read_text()
    for text in (
        "**Verdict: FAILED**",
        "| [S-1](#claim-s-1) | Claim one holds. | ✅ proven",
        "have: [27, 23, 35]",
        "Hypothesis profile",
        "migration head",
        "git revision",
    ):
        assert text in md


def test_the_json_has_the_documented_shape(run):
    result, _ = run
    for claim in result.report["claims"]:
        assert {"id", "package", "statement", "verdict", "evidence", "duration_s"} <= set(claim)
        assert claim["verdict"] in ("proven", "failed", "not_run", "out_of_scope", "awaiting_authority")
    for key in ("started_at", "finished_at", "claims_filter", "interrupted", "counts", "not_run"):
        assert key in result.report
    assert result.report["not_run"] == [{"id": "S-3", "kind": "environment", "reason": "needs the thing"}]
    assert result.report["run"]["target"].startswith("attached")


def test_junit_carries_the_claim_and_the_failure_text(run):
    _, root = run
    xml = (root / "reports" / "junit.xml").read_text()
    assert 'name="iu_claim" value="S-2"' in xml
    assert "want: [27, 23, 36]" in xml
    json.loads((root / "reports" / "proof-report.json").read_text())
