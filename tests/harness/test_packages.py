"""The package manifest (packages.toml) is complete and true: every path it
names exists, every proofs folder, ops folder, sabotage file and migration
belongs to exactly one package, and the package pages are up to date."""

import pytest

from iu_prove import catalogue, package_pages, packages, paths, sabotage

pytestmark = pytest.mark.claim("H-3")


def test_every_path_the_manifest_names_exists(evidence):
    """Each package's proofs folder, ops folder, runbook, page, sabotage file and records exist."""
    missing = [
        (p.letter, named) for p in packages.load().values() for named in p.paths() if not (paths.ROOT / named).exists()
    ]
    evidence.expect("missing paths", have=missing, want=[])
    absent = [
        (p.letter, m)
        for p in packages.load().values()
        for m in p.migrations
        if not list((paths.ROOT / "sql" / "migrations").glob(f"{m}_*.sql"))
    ]
    evidence.expect("migrations named but absent", have=absent, want=[])


def test_every_part_of_the_tree_belongs_to_one_package(evidence):
    """Every proofs folder, ops folder, sabotage file and migration is claimed by exactly one package."""
    manifest = packages.load().values()
    proofs = sorted(
        p.name for p in (paths.ROOT / "proofs").iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    )
    ops = sorted(p.name for p in (paths.ROOT / "sql" / "ops").iterdir() if p.is_dir() and not p.name.startswith("_"))
    files = sorted(p.name for p in (paths.ROOT / "fixtures" / "sabotages").glob("*.toml"))
    migrations = sorted(p.name[:3] for p in (paths.ROOT / "sql" / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
    owners = {
        "proofs": [p.proofs.rsplit("/", 1)[-1] for p in manifest],
        "ops": [p.ops.rsplit("/", 1)[-1] for p in manifest if p.ops],
        "sabotages": [p.sabotages.rsplit("/", 1)[-1] for p in manifest],
        "migrations": [m for p in manifest for m in p.migrations],
    }
    for kind, present in (("proofs", proofs), ("ops", ops), ("sabotages", files), ("migrations", migrations)):
        evidence.expect(f"{kind} without a package", have=sorted(set(present) - set(owners[kind])), want=[])
        doubled = sorted({x for x in owners[kind] if owners[kind].count(x) > 1})
        evidence.expect(f"{kind} claimed twice", have=doubled, want=[])


def test_every_claim_and_sabotage_belongs_to_the_package_of_its_folder(evidence):
    """A proof's claim letter is its folder's package; a sabotage kills claims of known packages."""
    wrong = []
    for claim in catalogue.for_args(["proofs"]).values():
        for test in claim.tests:
            package = packages.of_path(paths.ROOT / test.split("::", 1)[0])
            if package is None or (package.letter != claim.id[0] and claim.id[0] != "H"):
                wrong.append((claim.id, test))
    evidence.expect("proofs outside their claim's package folder", have=wrong, want=[])
    letters = set(packages.load())
    unknown = sorted({k for s in sabotage.registry().values() for k in s.kills if k.split("-", 1)[0] not in letters})
    evidence.expect("sabotages killing claims of unknown packages", have=unknown, want=[])


def test_the_package_pages_are_up_to_date(evidence):
    """docs/packages/<letter>.md equals what the manifest, the catalogue and the registry say today."""
    stale = [
        p.page
        for p in packages.load().values()
        if not (paths.ROOT / p.page).exists() or (paths.ROOT / p.page).read_text() != package_pages.render(p)
    ]
    evidence.expect("stale pages (python -m iu_prove.package_pages)", have=stale, want=[])


def test_the_readme_package_table_is_the_manifest(evidence):
    """The README's Layout section carries the package table as the manifest writes it."""
    readme = (paths.ROOT / "README.md").read_text()
    evidence.expect("README has the manifest's table", have=package_pages.readme_table() in readme, want=True)
