"""``iu-report``: work with proof reports after the runs.

* ``iu-report merge reports-*/proof-report.json --out reports/`` — one
  ``proof-report.{md,json}`` and ``junit.xml`` from the shards of a CI matrix
  (``--iu-shard``). Exit 0 PROVEN (or PARTIAL only for reasons the user chose,
  as for one run), 1 a claim failed, 3 shards missing, given twice, from
  different runs or interrupted, 2 a file that is not a proof report.
* ``iu-report diff OLD.json NEW.json`` — the "Changes since baseline" section
  (``--json`` for the JSON ``changes``). Exit 0, 2 for a file that is not a
  proof report.
* ``iu-report tap REPORT.json`` — the report as TAP, one line per claim.
"""

from __future__ import annotations

import argparse
import json
import sys

from iu_prove import merge, report, reportdiff, tap
from iu_prove.errors import run_cli


def _merge(args: argparse.Namespace) -> int:
    doc = merge.write(args.reports, args.out, baseline=args.baseline, tap_path=args.tap)
    info = doc["merge"]
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in doc["counts"].items() if n) or "no claims"
    shards = ", ".join(s["shard"] for s in info["shards"])
    print(f"merged {len(info['shards'])} report(s) (shards {shards}): {doc['verdict'].upper()} ({counts})")
    for problem in info["problems"]:
        print(f"{problem['kind'].upper()}: {problem['text']}", file=sys.stderr)
    for c in doc["claims"]:
        if c["verdict"] == "failed":
            print(report.failed_line(c), file=sys.stderr)
    print(f"report: {args.out.rstrip('/')}/proof-report.md")
    return doc["run"]["exit_status"]


def _diff(args: argparse.Namespace) -> int:
    changes = reportdiff.changes(reportdiff.load(args.old), reportdiff.load(args.new))
    if args.json:
        print(json.dumps(changes, indent=2, ensure_ascii=False))
    else:
        print(reportdiff.render(changes), end="")
    return 0


def _tap(args: argparse.Namespace) -> int:
    text = tap.render(reportdiff.load(args.report))
    if args.out:
        tap.write(reportdiff.load(args.report), args.out)
    else:
        print(text, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="iu-report", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge", help="one report from the shards of a CI matrix")
    m.add_argument("reports", nargs="+", help="each shard's proof-report.json (its junit.xml is read beside it)")
    m.add_argument("--out", default="reports", help="where the merged proof-report.{md,json} and junit.xml go")
    m.add_argument("--baseline", help="a previous proof-report.json: the merged report opens with what changed")
    m.add_argument("--tap", help="also write the merged report as TAP to this path")
    m.set_defaults(func=_merge)
    d = sub.add_parser("diff", help="what changed from OLD to NEW (the 'Changes since baseline' section)")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--json", action="store_true", help="print the JSON 'changes' instead of markdown")
    d.set_defaults(func=_diff)
    t = sub.add_parser("tap", help="a proof report as TAP, one line per claim")
    t.add_argument("report")
    t.add_argument("--out", help="write to this file instead of standard output")
    t.set_defaults(func=_tap)
    args = parser.parse_args(argv)
    return run_cli("iu-report", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
