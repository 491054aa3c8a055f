"""Every claim can fail: each has a registered sabotage, and each sabotage,
applied alone, makes every claim it names fail (the mutation matrix)."""

import re
from pathlib import Path

import pytest

from iu_prove import mutation, paths
from iu_prove.sabotage import Sabotage, SabotageError, registry

CLAIM_MARK = re.compile(r"""mark\.claim\(\s*["']([A-Z]-\d+)["']\s*\)""")


def proven_claims() -> set[str]:
    return {m for f in (paths.ROOT / "proofs").rglob("test_*.py") for m in CLAIM_MARK.findall(f.read_text())}


def test_every_claim_has_a_sabotage():
    targeted = {c for s in registry().values() for c in s.kills}
    assert sorted(proven_claims() - targeted) == []


def test_every_sabotage_names_only_claims_that_have_proofs():
    known = proven_claims()
    assert {s.id: [c for c in s.kills if c not in known] for s in registry().values() if set(s.kills) - known} == {}


def test_a_malformed_registry_is_refused(tmp_path):
    (tmp_path / "bad.toml").write_text('[[sabotage]]\nid = "x"\nkills = []\ndescription = "d"\nsql = "select 1"\n')
    with pytest.raises(SabotageError, match="names no claim"):
        registry(tmp_path)
    (tmp_path / "bad.toml").write_text('[[sabotage]]\nid = "x"\nkills = ["S-1"]\nsql = "select 1"\n')
    with pytest.raises(SabotageError, match="lacks 'description'"):
        registry(tmp_path)


def test_a_script_sabotage_replaces_exactly_one_text_of_a_copy(tmp_path):
    """A script sabotage changes one text of one script in a copy of sql/ops, never the checkout;
    a text found twice or not at all, or a script that does not exist, is refused."""
    ops = tmp_path / "ops"
    (ops / "pkg").mkdir(parents=True)
    (ops / "pkg" / "a.sql").write_text("SELECT 1 AS one;\nSELECT 2 AS two;\n")
    (ops / "pkg" / "b.sql").write_text("SELECT 3;\n")

    def sab(script: str, old: str) -> Sabotage:
        return Sabotage("X-1/s", ("X-1",), "script", "d", "", "x.toml", script=script, replace=(old, "SELECT 0"))

    copy = sab("pkg/a.sql", "SELECT 2").write_ops(tmp_path / "copy", ops)
    assert (copy / "pkg" / "a.sql").read_text() == "SELECT 1 AS one;\nSELECT 0 AS two;\n"
    assert (copy / "pkg" / "b.sql").read_text() == "SELECT 3;\n"
    assert (ops / "pkg" / "a.sql").read_text() == "SELECT 1 AS one;\nSELECT 2 AS two;\n"
    for script, old, why in [
        ("pkg/a.sql", "SELECT", "2 times"),
        ("pkg/a.sql", "DELETE", "0 times"),
        ("pkg/c.sql", "x", "no ops"),
    ]:
        with pytest.raises(SabotageError, match=why):
            sab(script, old).write_ops(tmp_path / f"copy-{why}", ops)


def test_every_script_sabotage_applies_to_the_shipped_scripts(tmp_path):
    """Each registered script sabotage finds its text exactly once in the shipped ops scripts."""
    problems = {}
    for s in registry().values():
        if s.mode == "script":
            try:
                s.write_ops(tmp_path / s.id.replace("/", "_"))
            except SabotageError as exc:
                problems[s.id] = str(exc)
    assert problems == {}


@pytest.mark.slow
@pytest.mark.claim("H-2")
def test_every_sabotage_is_killed_by_the_claims_it_targets(attach_spec, pytestconfig, evidence):
    """Every registered sabotage, applied alone, makes each claim it names fail."""
    outcomes = mutation.run_all(attach_spec, jobs=2)
    doc = mutation.write(outcomes, Path(pytestconfig.getoption("iu_report_dir")))
    evidence.record("sabotages", doc["sabotages"])
    evidence.record("killed", doc["killed"])
    survivors = {
        o.sabotage: o.error or f"claims still proven: {', '.join(o.survivors)}" for o in outcomes if not o.killed
    }
    assert survivors == {}, f"{doc['killed']} of {doc['sabotages']} sabotages killed"


@pytest.mark.slow
@pytest.mark.claim("H-2")
def test_a_sabotage_that_breaks_nothing_is_reported_as_surviving(attach_spec, tmp_path, evidence):
    """The matrix is not blind: a sabotage that changes nothing survives and is reported as such."""
    registry_dir = tmp_path / "sabotages"
    registry_dir.mkdir()
    (registry_dir / "control.toml").write_text(
        '[[sabotage]]\nid = "H-2/harmless"\nkills = ["S-3"]\ndescription = "changes nothing"\nsql = "SELECT 1"\n'
    )
    harmless = registry(registry_dir)["H-2/harmless"]
    outcome = mutation.run_one(harmless, attach_spec, tmp_path, [], sabotage_dir=registry_dir)
    evidence.expect("survivors of a harmless sabotage", have=outcome.survivors, want=["S-3"])
