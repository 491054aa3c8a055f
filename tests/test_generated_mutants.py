"""Generated SQL mutants: a fixed, seeded sample runs against the proofs that
call its functions, and the proofs kill enough of it (``make mutate`` runs all)."""

import json
import subprocess
import sys

import pytest

from iu_prove import paths
from iu_prove.mutants import generate
from iu_prove.mutants import report as mreport
from iu_prove.target import ATTACH_ENV

pytestmark = pytest.mark.slow

# Proofs of the sample: fast ones over the substrate, D, F and X functions.
SAMPLE_PROOFS = ["proofs/s_substrate", "proofs/x_cross_cutting"]
SAMPLE, SEED = 30, 16
KNOWN_KILLABLE = "fn_iu_core_gate/comparison/"  # the gate reads `= true` as `<> true`: every gate proof fails
# The control: `EXISTS (SELECT 1 …)` → `EXISTS (SELECT 0 …)` changes nothing (declared equivalent in
# fixtures/mutants-equivalent.toml), so no proof may fail on it: a kill would be the harness failing.
CONTROL = "fn_iu_three_axis_envelope_compute/integer/L3-"
# The sample's score may not fall below this (measured 64.5% over the substrate and X proofs alone:
# the survivors are listed by the assertion and in the mutation report).
FLOOR = 0.60


@pytest.fixture(scope="module")
def sample_run(attach_spec, tmp_path_factory):
    work = tmp_path_factory.mktemp("mutants")
    out = work / "sample.json"
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "iu_prove.mutants.plugin",
        "-q", *SAMPLE_PROOFS, f"--iu-report-dir={work / 'report'}", f"--iu-mutants-out={out}",
        f"--iu-mutants-sample={SAMPLE}", f"--iu-mutants-seed={SEED}", "--iu-mutants-covered",
        f"--iu-mutants-only={KNOWN_KILLABLE},{CONTROL}",
    ]  # fmt: skip
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    env[ATTACH_ENV] = attach_spec
    proc = subprocess.run(cmd, cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc


@pytest.mark.claim("H-2")
def test_a_seeded_sample_of_generated_mutants_is_killed_above_the_floor(sample_run, evidence):
    """A fixed, seeded sample of generated mutants, each run against the proofs that call its
    function, is killed at or above the floor; the known-killable mutant is killed."""
    doc, proc = sample_run
    gen = mreport.summarise(doc | {"partial": True})
    evidence.record("sample", {"mutants": gen["total"], "killed": gen["killed"], "score": gen["score"]})
    assert doc["functions_not_restored"] == 0, "a mutated function was left in the worker's clone"
    assert gen["total"] >= SAMPLE * 0.9, f"only {gen['total']} compiling mutants in the sample"
    known = [r for r in doc["results"] if r["id"].startswith(KNOWN_KILLABLE)]
    assert known and all(r["killed_by"] for r in known), known
    control = [r for r in doc["results"] if r["id"].startswith(CONTROL)]
    assert all(r["id"] in mreport.equivalents() for r in control), "the control is declared equivalent"
    assert control and not any(r["killed_by"] for r in control), control
    assert all(r["proofs_run"] > 0 for r in control), "the control ran against no proof"
    # statement coverage: the proofs' runs fired probes, and each mutant ran only against
    # proofs that reached its statement
    probes = {key for p in doc["coverage"]["proofs"].values() for key in p.get("statements", [])}
    assert probes, "no statement probe fired in the coverage run"
    assert all(r["statement"] is not None for r in control), "the control has no statement"
    assert not gen["harness_errors"], gen["harness_errors"]
    for cid, c in gen["by_claim"].items():
        assert 0 <= c["killed"] <= c["total"], (cid, c)
    assert gen["by_claim"][known[0]["claim"]]["killed"] >= 1
    survivors = [s["diff"] for r in gen["by_function"] for s in r["survived"]]
    assert gen["score"] >= FLOOR, f"score {gen['score']} below {FLOOR}; survivors: {survivors}"
    assert "SURVIVED" in proc.stderr or "killed by" in proc.stderr  # progress is printed per mutant


def test_the_generator_makes_every_operator_and_checks_what_it_makes():
    """The operators find their tokens through PostgreSQL's own scanner, and a mutant that
    does not parse is marked as not compiling, never run."""
    body = (
        "BEGIN\n"
        "  IF p_a IS NULL OR p_n < 1 AND NOT p_flag THEN RETURN coalesce(p_x, 0); END IF;\n"
        "  UPDATE t SET a = 1 WHERE b = true AND c > 2;\n"
        "  EXECUTE format('SELECT %I', quote_ident(p_t));\n"
        "  RETURN 1;\n"
        "END"
    )
    fn = generate.Function(
        oid=1,
        signature="f(text)",
        name="f",
        language="plpgsql",
        source=body,
        definition="CREATE OR REPLACE FUNCTION public.f(p_a text, p_n int, p_flag bool, p_x int, p_t text)\n"
        f" RETURNS integer LANGUAGE plpgsql AS $function${body}$function$\n",
        migration="036",
    )
    made = generate.mutants_of(fn)
    operators = {m.operator for m in made}
    assert operators == set(generate.OPERATORS), set(generate.OPERATORS) - operators
    diffs = {m.diff for m in made}
    assert "L3: UPDATE t SET a = 1 WHERE b = true AND c > 2; → UPDATE t SET a = 1 WHERE b = true;" in diffs
    assert not any("SET a <> 1" in d for d in diffs), "an assignment is not a comparison"
    fmt = "EXECUTE format('SELECT %I', quote_ident(p_t));"
    assert f"L4: {fmt} → {fmt.replace('%I', '%s')}" in diffs
    assert f"L4: {fmt} → {fmt.replace('quote_ident(p_t)', '(p_t)')}" in diffs
    assert all(m.compiles is None and m.sql for m in made)
    broken = fn.replace_sql(body.replace("p_n < 1", "p_n < < 1"))
    assert "< <" in broken
    assert generate._parses(fn, body.replace("p_n < 1", "p_n < < 1"))
