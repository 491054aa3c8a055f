"""``iu-migrate --dsn …``: apply pending migrations (and optionally the fixtures)
to a scratch database, checking every applied file's checksum first."""

from __future__ import annotations

import argparse
import sys

from iu_prove import config, migrations, seed
from iu_prove.dsn import connect, mask
from iu_prove.errors import SetupError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iu-migrate", description=__doc__)
    parser.add_argument("--dsn", default=config.env("IU_PROVE_DSN"), help="database to migrate (env IU_PROVE_DSN)")
    parser.add_argument("--upto", help="stop after this migration number (e.g. 035)")
    parser.add_argument("--with-fixtures", action="store_true", help="also load fixtures/seed if absent")
    parser.add_argument("--check", action="store_true", help="only verify checksums and list pending migrations")
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("--dsn (or IU_PROVE_DSN) is required")
    try:
        with connect(args.dsn) as conn:
            if args.check:
                pending = migrations.verify(conn, migrations.discover())
                print(f"{mask(args.dsn)}: head {migrations.head(conn)}, {len(pending)} pending")
                for mig in pending:
                    print(f"  pending {mig.path.name}")
                return 0
            done = migrations.apply(conn, upto=args.upto, progress=lambda m: print(m, flush=True))
            print(f"{mask(args.dsn)}: applied {len(done)} migration(s); head {migrations.head(conn)}")
            if args.with_fixtures:
                if seed.present(conn):
                    print("fixtures already present")
                else:
                    print(f"loaded {seed.load(conn)} fixture file(s)")
    except SetupError as exc:
        print(f"iu-migrate: {exc.line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("iu-migrate: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
