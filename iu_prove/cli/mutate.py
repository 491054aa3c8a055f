"""``iu-mutate``: apply every registered sabotage, one at a time, and check that
each makes the claims it names fail; writes reports/mutation-report.{md,json}.

Exit 0 when every sabotage is killed, 1 when one survives, 2 on set-up errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iu_prove import config, mutation, target
from iu_prove.embedded import EmbeddedCluster
from iu_prove.errors import SetupError
from iu_prove.nested import attach_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iu-mutate", description=__doc__)
    parser.add_argument("--only", help="only sabotages whose id contains this text")
    parser.add_argument("--jobs", type=int, default=2, help="sabotages run at once (default 2)")
    parser.add_argument("--report-dir", default=config.env("IU_PROVE_REPORT_DIR"))
    args = parser.parse_args(argv)
    try:
        with EmbeddedCluster() as cluster:
            tgt = target.embedded(cluster)
            spec = attach_spec(tgt.server_dsn, tgt.template, tgt.head, tgt.server_version)
            outcomes = mutation.run_all(spec, only=args.only, jobs=args.jobs)
    except SetupError as exc:
        print(f"iu-mutate: {exc.line()}", file=sys.stderr)
        return 2
    doc = mutation.write(outcomes, Path(args.report_dir))
    print(f"{doc['killed']} of {doc['sabotages']} sabotages killed; report: {args.report_dir}/mutation-report.md")
    for name in doc["survived"]:
        print(f"SURVIVED: {name}", file=sys.stderr)
    return 0 if doc["verdict"] == "proven" else 1


if __name__ == "__main__":
    sys.exit(main())
