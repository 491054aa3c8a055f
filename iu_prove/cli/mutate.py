"""``iu-mutate``: the mutation matrices, on one embedded cluster.

* **registry** — every registered sabotage (``fixtures/sabotages``), applied
  one at a time, must make the claims it names fail;
* **generated** — mutants made from every migration function's body and view's
  query (:mod:`iu_prove.mutants`), each run against the proofs that reach it;
* **scripts** — mutants made from the operators' scripts (``sql/ops``,
  :mod:`iu_prove.mutants.scripts`), each run against the claims whose proofs
  name the script.

``--matrix all`` (the default) runs the three; ``both`` the first two.

Writes reports/mutation-report.{md,json}. Exit 0 when every sabotage is killed
and the generated score meets its floors, 1 otherwise, 2 on set-up errors.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from iu_prove import config, mutation, target
from iu_prove.embedded import EmbeddedCluster
from iu_prove.errors import SetupError
from iu_prove.mutants import report as generated_report
from iu_prove.mutants import run as generated_run
from iu_prove.mutants import scripts

# The goals of the generated score, per migration range.
FLOORS = {"036+": 0.90, "all": 0.80}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iu-mutate", description=__doc__)
    parser.add_argument("--only", help="only sabotages / generated mutants whose id contains this text")
    parser.add_argument("--jobs", type=int, default=2, help="sabotages or mutant shards run at once (default 2)")
    parser.add_argument("--report-dir", default=config.env("IU_PROVE_REPORT_DIR"))
    parser.add_argument("--matrix", choices=("all", "both", "registry", "generated", "scripts"), default="all")
    parser.add_argument("--sample", type=int, default=0, help="a seeded sample of this many generated mutants")
    parser.add_argument("--seed", type=int, default=16, help="seed of the sample (default 16)")
    parser.add_argument(
        "--max-proofs",
        type=int,
        default=None,
        help="run a generated mutant against at most this many of the proofs that reach it (default 0: all of them)",
    )
    args = parser.parse_args(argv)
    outcomes = generated = script_outcomes = None
    timings: dict[str, float] = {}
    try:
        with contextlib.ExitStack() as cleanup:
            cluster = EmbeddedCluster()
            cleanup.callback(cluster.remove)
            tgt, _ = target.start_embedded(cluster)  # from the template cache when nothing changed
            spec = tgt.for_children().to_json()
            if args.matrix in ("all", "both", "generated"):
                started = time.monotonic()
                results = generated_run.run(
                    spec, jobs=args.jobs, sample=args.sample, seed=args.seed, only=args.only, max_proofs=args.max_proofs
                )
                generated = generated_report.summarise(results)
                timings["generated"] = time.monotonic() - started
            if args.matrix in ("all", "both", "registry", "scripts"):
                started = time.monotonic()
                found = mutation.run_all(
                    spec,
                    only=args.only,
                    jobs=args.jobs,
                    sabotages_too=args.matrix != "scripts",
                    script_mutants=args.matrix in ("all", "scripts"),
                )
                if args.matrix != "scripts":
                    outcomes = [o for o in found if not o.sabotage.startswith(scripts.PREFIX)]
                if args.matrix in ("all", "scripts"):
                    script_outcomes = [o for o in found if o.sabotage.startswith(scripts.PREFIX)]
                timings["registry"] = time.monotonic() - started
    except (SetupError, RuntimeError) as exc:
        print(f"iu-mutate: {exc.line() if isinstance(exc, SetupError) else exc}", file=sys.stderr)
        return 2
    doc = mutation.write(outcomes, Path(args.report_dir), generated=generated, script_outcomes=script_outcomes)
    ok = True
    if outcomes is not None:
        reg = doc["registry"]
        print(f"registry: {reg['killed']} of {reg['sabotages']} sabotages killed in {timings['registry']:.0f} s")
        for name in reg["survived"]:
            print(f"SURVIVED: {name}", file=sys.stderr)
        ok = ok and reg["verdict"] == "proven"
    if script_outcomes is not None:
        sd = doc["scripts"]
        print(f"scripts: {sd['killed']} of {sd['mutants']} ops-script mutants killed, score {_pct(sd['score'])}")
    if generated is not None:
        ranges = ", ".join(
            f"{name} {_pct(r['score'])} ({r['killed']}/{r['total'] - r['equivalent']})"
            for name, r in generated["by_range"].items()
        )
        print(
            f"generated: {generated['killed']} of {generated['total'] - generated['equivalent']} killed, "
            f"score {_pct(generated['score'])} — {ranges}; {generated['generated']} generated, "
            f"{generated['not_compiling']} not compiling, {generated['equivalent']} equivalent; "
            f"in {timings['generated']:.0f} s"
        )
        if not args.sample and not args.only:
            scores = {"all": generated["score"], "036+": generated["by_range"]["036+"]["score"]}
            for name, floor in FLOORS.items():
                if scores[name] is not None and scores[name] < floor:
                    print(f"generated score {name} {_pct(scores[name])} is below {_pct(floor)}", file=sys.stderr)
                    ok = False
    print(f"report: {args.report_dir}/mutation-report.md")
    return 0 if ok else 1


def _pct(score: float | None) -> str:
    return "—" if score is None else f"{score * 100:.1f}%"


if __name__ == "__main__":
    sys.exit(main())
