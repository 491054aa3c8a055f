"""``iu-pins``: print the current inventory in the format of fixtures/pins.toml.

Without ``--dsn`` it builds the substrate on a throw-away embedded cluster.
"""

from __future__ import annotations

import argparse
import sys

from iu_prove import config, migrations, pins
from iu_prove.dsn import connect
from iu_prove.embedded import EmbeddedCluster
from iu_prove.errors import run_cli


def _print(dsn: str, check: bool) -> int:
    with connect(dsn) as conn:
        head = migrations.head(conn) or "none"
        live = pins.inventory(conn)
    if check:
        diff = pins.diff(pins.pinned(head), live)
        for line in diff:
            print(line)
        print(f"head {head}: {'matches the pins' if not diff else f'{len(diff)} difference(s) from the pins'}")
        return 1 if diff else 0
    sys.stdout.write(pins.render(head, live))
    return 0


HEADER = """\
# Pinned inventory of the IU core substrate, keyed by migration head.
#
# Each head pins, in the vocabulary of pgTAP's schema assertions: tables
# (logged or not), columns (type, NOT NULL, default), constraints (primary
# key, unique, foreign key, CHECK), indexes, views (definition digest),
# functions (arguments and defaults, return type, language, volatility,
# STRICT, SECURITY DEFINER), triggers (timing, events, level, function,
# enabled state), grants and healthcheck surfaces (position, check function).
#
# A macro that changes any of these adds the block for its new head in the
# same change: `make pins` prints the current head's block, `iu-pins --all`
# this whole file. The pins proofs print the exact difference:
#   + trigger trg_… on …        (live, not pinned)
#   - column t.c                (pinned, missing)
#   ~ trigger trg_x on t: AFTER INSERT ROW … → AFTER INSERT OR UPDATE ROW …
"""
FIRST_PINNED_HEAD = "035"


def _all_heads() -> str:
    """Apply the migrations one at a time and pin every head from 035 on."""
    blocks = [HEADER]
    with EmbeddedCluster() as cluster:
        with connect(cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE iu_pins")
        with connect(cluster.dsn("iu_pins")) as conn:
            for mig in migrations.discover():
                migrations.apply(conn, upto=mig.version)
                if mig.version >= FIRST_PINNED_HEAD:
                    blocks.append(pins.render(mig.version, pins.inventory(conn)))
                    conn.rollback()
    return "\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iu-pins", description=__doc__)
    parser.add_argument("--dsn", default=config.env("IU_PROVE_DSN"))
    parser.add_argument("--upto", help="inventory at this migration head (embedded only)")
    parser.add_argument("--check", action="store_true", help="print the difference from the pins; exit 1 if any")
    parser.add_argument("--all", action="store_true", help="every head from 035 on: the whole pins file (embedded)")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.dsn:
            return _print(args.dsn, args.check)
        if args.all:
            sys.stdout.write(_all_heads())
            return 0
        with EmbeddedCluster() as cluster:
            with connect(cluster.dsn("postgres"), autocommit=True) as conn:
                conn.execute("CREATE DATABASE iu_pins")
            with connect(cluster.dsn("iu_pins")) as conn:
                migrations.apply(conn, upto=args.upto)
            return _print(cluster.dsn("iu_pins"), args.check)

    return run_cli("iu-pins", body)


if __name__ == "__main__":
    sys.exit(main())
