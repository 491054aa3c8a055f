"""Every knob is declared once (iu_prove/config.py) and the README's options
table says exactly what the declarations say."""

import re

import pytest

from iu_prove import config, paths

pytestmark = pytest.mark.claim("H-3")

ROW = re.compile(r"^\| (?P<option>`--[a-z-]+`)? \| `(?P<env>[A-Z_]+)` \| (?P<default>`[^`]*`)? \| (?P<help>.+) \|$")


def _readme_rows() -> dict[str, tuple[str | None, str | None, str]]:
    rows = {}
    for line in (paths.ROOT / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match["env"]] = (
                (match["option"] or "").strip("`") or None,
                (match["default"] or "").strip("`") or None,
                match["help"],
            )
    return rows


def test_the_readme_options_table_equals_the_declared_knobs(evidence):
    """The README's options table lists every user-facing knob with its option, default and help, and nothing else."""
    declared = {k.env: (k.option, k.default, k.help) for k in config.KNOBS if not k.internal}
    evidence.expect("README rows", have=_readme_rows(), want=declared)


def test_the_harness_reads_no_undeclared_environment_variable(evidence):
    """No module of the harness reads an IU_* environment variable that config.py does not declare."""
    names = set()
    for path in (paths.ROOT / "iu_prove").rglob("*.py"):
        # a name ends in a letter; "IU_PROVE_" and the like are prefixes that filter environments
        names |= set(re.findall(r"[\"'](IU_[A-Z_]*[A-Z])[\"']", path.read_text()))
    evidence.expect("undeclared names", have=sorted(n for n in names if n not in config.BY_ENV), want=[])


def test_every_plugin_option_comes_from_a_declared_knob(pytestconfig, evidence):
    """Each --iu-* option of the plugin is a declared knob whose default is its environment variable's."""
    options = {k.option for k in config.options()}
    parser_options = {
        name
        for opt in pytestconfig._parser._anonymous.options
        + [o for g in pytestconfig._parser._groups for o in g.options]
        for name in opt.names()
        if name.startswith("--iu-")
    }
    evidence.expect("options not declared", have=sorted(parser_options - options), want=[])
    evidence.expect("declared options missing from the plugin", have=sorted(options - parser_options), want=[])


@pytest.mark.parametrize(
    ("mode", "kind", "scratch", "want"),
    [
        ("auto", "embedded", False, True),
        ("auto", "attached", False, True),
        ("auto", "dsn", True, True),
        ("auto", "dsn", False, False),
        ("on", "dsn", False, True),
        ("off", "embedded", False, False),
        ("off", "dsn", True, False),
    ],
)
def test_change_capture_is_on_by_default_only_where_the_run_owns_the_database(
    monkeypatch, evidence, mode, kind, scratch, want
):
    """IU_PROVE_CHANGE_CAPTURE=auto captures on embedded, attached and scratch targets, not on a plain DSN."""
    from iu_prove import fix_db
    from iu_prove.target import Target

    monkeypatch.setenv("IU_PROVE_CHANGE_CAPTURE", mode)
    have = fix_db.change_capture_on(Target(kind=kind, server_dsn="", scratch=scratch))
    evidence.expect(f"capture with {mode} on {kind}{' scratch' if scratch else ''}", have=have, want=want)


def test_an_unknown_change_capture_mode_is_refused(monkeypatch):
    """IU_PROVE_CHANGE_CAPTURE=sometimes is refused with the values it takes."""
    from iu_prove import fix_db
    from iu_prove.errors import SetupError
    from iu_prove.target import Target

    monkeypatch.setenv("IU_PROVE_CHANGE_CAPTURE", "sometimes")
    with pytest.raises(SetupError, match="use auto, on or off"):
        fix_db.change_capture_on(Target(kind="embedded", server_dsn=""))
