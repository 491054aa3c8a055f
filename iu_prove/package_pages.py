"""The package pages ``docs/packages/<letter>.md``, written from the manifest,
the claim catalogue and the sabotage registry, so a newcomer finds every part
of a package on one page. ``python -m iu_prove.package_pages`` rewrites them;
a suite test fails when one is out of date."""

from __future__ import annotations

import sys

from iu_prove import catalogue, claims, packages, paths, sabotage


def _migration_files(numbers: tuple[str, ...]) -> list[str]:
    found = []
    for number in numbers:
        found += sorted(p.name for p in (paths.ROOT / "sql" / "migrations").glob(f"{number}_*.sql"))
    return found


def render(package: packages.Package) -> str:
    catalogue_claims = catalogue.scan(sorted((paths.ROOT / package.proofs).rglob("test_*.py")))
    own = sorted(
        (c for c in catalogue_claims.values() if c.id.startswith(f"{package.letter}-")),
        key=lambda c: claims.sort_key(c.id),
    )
    registry = [s for s in sabotage.registry().values() if s.source == package.sabotages.rsplit("/", 1)[-1]]
    rel = "../../"
    out = [
        f"# {package.title}",
        "",
        "Written from `packages.toml` by `python -m iu_prove.package_pages`; do not edit by hand.",
        "",
        "| part | where |",
        "|---|---|",
        f"| proofs | [`{package.proofs}/`]({rel}{package.proofs}) |",
        f"| migration head its proofs need | {package.head or 'any'} |",
        f"| migrations | {', '.join(f'`{m}`' for m in _migration_files(package.migrations)) or 'none'} |",
        f"| operator scripts | {f'[`{package.ops}/`]({rel}{package.ops})' if package.ops else 'none'} |",
        f"| runbook | {f'[{package.runbook}]({rel}{package.runbook})' if package.runbook else 'none'} |",
        f"| sabotages | [`{package.sabotages}`]({rel}{package.sabotages}) ({len(registry)}) |",
        f"| open decisions | {', '.join(package.decisions) or 'none'} |",
        f"| decision records | {', '.join(f'[{r}]({rel}{r})' for r in package.records) or 'none'} |",
        "",
        "## Claims",
        "",
        "| id | claim | proofs | sabotages |",
        "|---|---|---|---|",
    ]
    for c in own:
        files = ", ".join(sorted({"`" + t.split("::", 1)[0].rsplit("/", 1)[-1] + "`" for t in c.tests}))
        kills = sorted(s.id for s in registry if c.id in s.kills)
        out.append(f"| {c.id} | {c.statement} | {files} | {len(kills)} |")
    return "\n".join(out) + "\n"


def readme_table() -> str:
    """The README's package table (its Layout section)."""
    rows = ["| package | proofs | migrations | operator scripts | page |", "|---|---|---|---|---|"]
    for pk in packages.load().values():
        migs = ", ".join(pk.migrations) if len(pk.migrations) < 6 else f"{pk.migrations[0]}–{pk.migrations[-1]}"
        ops = f"`{pk.ops}/`" if pk.ops else "—"
        rows.append(f"| {pk.title} | `{pk.proofs}/` | {migs or '—'} | {ops} | [{pk.page}]({pk.page}) |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for package in packages.load().values():
        path = paths.ROOT / package.page
        text = render(package)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(package.page)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for page in stale:
        print(f"out of date: {page} (python -m iu_prove.package_pages)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
