"""G-8 to G-10: one convention for every ops script. G-8: each script accepts
exactly the variables it declares, refuses every other known name (the old
spellings too) naming the ones it accepts, and every `-v name=` the README and
runbooks document is declared. G-9: empty live operations refuse. G-10: what
runs when the caller says nothing is the safe mode. Plus the runbook's scaleout
section leaves a healthcheck that is still green a simulated day later."""

from __future__ import annotations

import re
import subprocess

import pytest

from iu_prove import paths
from iu_prove.dsn import connect
from iu_prove.psql import operator_env
from proofs.g_ops_closeout import _support as sup
from proofs.g_ops_closeout import cookbook

OPS = paths.ROOT / "sql" / "ops"
KNOWN = re.compile(r"^-- known: (.*)$\n^-- old:\s+(.*)$", re.M)
ACCEPTS = re.compile(r"^\\set ops_accepts '([^']*)'$", re.M)
DOC_VAR = re.compile(r"-v\s+([a-z_]+)=")
SCRIPT_REF = re.compile(r"sql/ops/([\w-]+/[\w-]+\.sql)")


def _scripts() -> dict[str, list[str]]:
    found = {}
    for path in sorted(OPS.glob("*/*.sql")):
        if path.parent.name == "_lib":
            continue
        m = ACCEPTS.search(path.read_text())
        found[str(path.relative_to(OPS))] = m.group(1).split() if m else None
    return found


def _known() -> tuple[list[str], list[str]]:
    m = KNOWN.search((OPS / "_lib" / "variables.sql").read_text())
    return m.group(1).split(), m.group(2).split()


@pytest.mark.claim("G-8")
@pytest.mark.readonly
def test_every_documented_variable_is_declared_by_its_script(evidence):
    """Every ops script declares its variables through the shared preamble; every -v name= the docs use is declared."""
    scripts = _scripts()
    known, old = _known()
    listed = (OPS / "_lib" / "variables.sql").read_text()
    evidence.expect_no_rows("scripts without ops_accepts", [s for s, a in scripts.items() if a is None])
    evidence.expect_no_rows(
        "scripts not including the shared preamble",
        [s for s in scripts if "\\ir ../_lib/preamble.sql" not in (OPS / s).read_text()],
    )
    evidence.expect_no_rows(
        "accepted names missing from the shared list (or its \\if tests)",
        [[s, n] for s, a in scripts.items() for n in a or [] if n not in known or f"\\if :{{?{n}}}" not in listed],
    )
    evidence.expect_no_rows(
        "old spellings a script still accepts", [[s, n] for s, a in scripts.items() for n in a or [] if n in old]
    )
    undeclared, seen = [], 0
    for page in [paths.ROOT / "README.md", *cookbook.pages()]:
        text = page.read_text()
        fenced = "\n".join(b.text for b in cookbook.extract(page)) if page.name != "README.md" else ""
        commands = re.findall(r"`([^`\n]+)`", text) + re.split(r"\n(?!\s*(?:-v|-f|-d))", fenced.replace("\\\n", " "))
        for command in commands:
            refs = SCRIPT_REF.findall(command)
            if len(refs) != 1 or refs[0] not in scripts:
                continue
            for name in DOC_VAR.findall(command):
                if name == "ON_ERROR_STOP":
                    continue
                seen += 1
                if name not in (scripts[refs[0]] or []):
                    undeclared.append([page.name, refs[0], name])
    evidence.record("documented -v uses checked", seen)
    evidence.expect_true("the docs document -v variables", seen > 10)
    evidence.expect_no_rows("documented variables the script does not declare (page, script, name)", undeclared)


@pytest.mark.claim("G-8")
@pytest.mark.durable
def test_every_script_refuses_every_name_it_does_not_accept(fresh_database, psql, evidence):
    """Each ops script refuses each known variable it does not accept, naming the ones it accepts; nothing written."""
    scripts = _scripts()
    known, old = _known()
    before = sup.fingerprint_of(fresh_database)
    wrong: list = []
    tried = 0
    for script, accepts in scripts.items():
        for name in known + old:
            if name in accepts:
                continue
            tried += 1
            run = psql.run(script, dsn=fresh_database, **{name: "true"})
            named = f"it accepts: {', '.join(accepts) or 'no variables'}" in run.stderr
            if run.returncode != 3 or not (f"-v {name} is not a variable" in run.stderr and named):
                wrong.append([script, name, run.returncode, run.stderr.strip()[-200:]])
    after_refusals = sup.fingerprint_of(fresh_database)
    live = psql.run("scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=2, actor="iu-core-conv", live="true")
    printed = [ln.split(":", 1)[1].strip() for ln in live.stdout.splitlines() if ln.startswith(("verify:", "refresh:"))]
    pasted = [
        subprocess.run(["bash", "-c", cmd], cwd=paths.ROOT, capture_output=True, text=True, timeout=120, env=env)
        for cmd in printed
        # An operator's password lives in ~/.pgpass or PGPASSWORD, never in a printed command.
        for env in [operator_env()]
    ]
    evidence.expect(
        "live scaleout, then its printed verify and refresh commands pasted as printed (no PG* environment "
        "but the password): exits",
        have=[live.returncode, *[p.returncode for p in pasted]],
        want=[0, 0, 0],
        rows=[live.stderr[-300:], *[p.stderr[-300:] for p in pasted]],
    )
    evidence.record("refusals tried (script x name)", tried)
    evidence.expect_no_rows("names not refused with the accepted list (script, name, exit, message)", wrong)
    evidence.expect_no_rows("tables changed by the refusals", sup.fingerprint_delta(before, after_refusals))


@pytest.mark.claim("G-9")
@pytest.mark.durable
def test_empty_live_operations_refuse_naming_what_they_looked_for(fresh_database, psql, evidence):
    """A live rollback of an unknown actor or a route removal with nothing to remove exits 3; allow_empty accepts."""
    before = sup.fingerprint_of(fresh_database)
    typo = psql.run("scaleout/rollback_batch.sql", dsn=fresh_database, actor="no-such-actor", live="true")
    routes = psql.run(
        "event-boundary/unregister_internal_routes.sql", dsn=fresh_database, live="true", actor="iu-core-ops"
    )
    evidence.expect(
        "rollback of no-such-actor: exit, names the actor, suggests the dry run",
        have=[typo.returncode, "'no-such-actor'" in typo.stderr, "rollback_batch.sql" in typo.stderr.split("HINT")[-1]],
        want=[3, True, True],
        rows=[typo.stderr],
    )
    evidence.expect(
        "route removal with nothing to remove: exit, suggests the dry run",
        have=[routes.returncode, "unregister_internal_routes.sql" in routes.stderr.split("HINT")[-1]],
        want=[3, True],
        rows=[routes.stderr],
    )
    evidence.expect_no_rows(
        "tables changed by the refusals", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database))
    )
    allowed = psql.run(
        "scaleout/rollback_batch.sql", dsn=fresh_database, actor="no-such-actor", live="true", allow_empty="true"
    )
    evidence.expect("rollback with allow_empty=true: exit", have=allowed.returncode, want=0, rows=[allowed.stderr])


REQUIRED = {
    "scaleout/run_bounded_scaleout.sql": {"n": "5"},
    "scaleout/verify_batch.sql": {"actor": "iu-core-defaults"},
    "scaleout/export_instance.sql": {"code": "BULK12-WF-ONBOARD-v2"},
    "scaleout/rollback_batch.sql": {"actor": "iu-core-12x-bulk"},
}


@pytest.mark.claim("G-10")
@pytest.mark.durable
def test_every_ops_script_said_nothing_runs_its_safe_mode(fresh_database, psql, tmp_path, evidence):
    """Every ops script, given only its required variables, exits 0 and changes nothing (dry run or read-only)."""
    text = tmp_path / "x.iutext"
    with connect(fresh_database) as conn:
        text.write_text(conn.execute("SELECT fn_iu_collection_export_text('BULK12-WF-ONBOARD-v2')").fetchone()[0])
        conn.rollback()
    batch = psql.run(
        "scaleout/run_bounded_scaleout.sql", dsn=fresh_database, n=3, actor="iu-core-defaults", live="true"
    )
    evidence.expect("setup: a committed batch to verify", have=batch.returncode, want=0, rows=[batch.stderr])
    required = {
        **REQUIRED,
        "scaleout/import_instance.sql": {"file": str(text), "actor": "iu-core-ops", "code": "X-COPY"},
    }
    outcomes, changed = {}, []
    for script in _scripts():
        before = sup.fingerprint_of(fresh_database)
        run = psql.run(script, dsn=fresh_database, **required.get(script, {}))
        outcomes[script] = run.returncode
        if run.returncode:
            changed.append([script, run.output[-300:]])
        delta = sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database))
        if delta:
            changed.append([script, delta])
    evidence.expect("exit code per script, said nothing", have=outcomes, want={s: 0 for s in outcomes})
    evidence.expect_no_rows("scripts that changed a table when told nothing", changed)


@pytest.mark.claim("G-10")
@pytest.mark.readonly
def test_every_dot_iu_command_defaults_to_its_safe_mode(db, evidence):
    """Every dot_iu_* command that can write takes dry_run and defaults it to true; the others only read or refresh."""
    rows = db.execute(
        "SELECT p.proname, pg_get_function_arguments(p.oid), p.provolatile FROM pg_proc p "
        "WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'dot\\_iu\\_%' ORDER BY 1"
    ).fetchall()
    defaults = {name: args for name, args, _ in rows}
    evidence.record("dot_iu_* commands and their arguments", defaults)
    writers = {
        "dot_iu_auto_instantiate_from_event",
        "dot_iu_auto_instantiate_rollback_by_actor",
        "dot_iu_collection_retire",
    }
    evidence.expect(
        "writers whose dry_run defaults to true",
        have=sorted(n for n, a in defaults.items() if re.search(r"dry_run boolean DEFAULT true", a)),
        want=sorted(writers),
    )
    evidence.expect(
        "the other commands: reports, and the manual full refresh (the operator's explicit recompute)",
        have=sorted(n for n in defaults if n not in writers),
        want=["dot_iu_cross_template_piece_sharing", "dot_iu_healthcheck", "dot_iu_three_axis_envelope_refresh"],
    )
    db.execute("SELECT * FROM dot_iu_collection_retire('iu-core-12x-bulk')")
    retired = db.execute(
        "SELECT count(*) FROM information_unit u JOIN iu_collection_template_instance_lineage l "
        "ON l.instance_collection_id = u.id WHERE l.actor = 'iu-core-12x-bulk' AND u.lifecycle_state = 'retired'"
    ).fetchone()[0]
    evidence.expect("retire said nothing: instances retired", have=retired, want=0)


@pytest.mark.claim("G-6")
@pytest.mark.durable
def test_the_runbook_scaleout_section_leaves_the_healthcheck_green_a_day_later(fresh_database, tmp_path, evidence):
    """The runbook's scaleout section, run as written, leaves every surface green with dirty marks aged 25 h."""
    blocks = [b for b in cookbook.extract(cookbook.RUNBOOK) if b.section == "Scaleout procedure" and b.kind == "sh"]
    env = cookbook.shell_env(fresh_database, tmp_path / "backups")
    aged = (
        "SELECT surface FROM dot_iu_healthcheck() WHERE NOT ok ORDER BY 1",
        "UPDATE iu_three_axis_envelope_dirty SET marked_at = marked_at - interval '25 hours'",
    )

    def red_a_day_later() -> list[str]:
        with connect(fresh_database) as conn:
            conn.execute(aged[1])
            red = [r[0] for r in conn.execute(aged[0]).fetchall()]
            conn.rollback()
        return red

    runs = []
    for block in blocks[:-1]:
        runs.append(cookbook.run_sh(block, env))
    before_refresh = red_a_day_later()
    runs.append(cookbook.run_sh(blocks[-1], env))
    evidence.record("blocks run", [r.as_evidence() for r in runs])
    evidence.expect_no_rows(
        "blocks that failed", [[r.block.label, r.returncode, r.output[-300:]] for r in runs if r.returncode]
    )
    evidence.expect_true(
        "the last block of the section is the committed refresh",
        "live=true" in blocks[-1].text and "refresh_stale.sql" in blocks[-1].text,
    )
    evidence.expect("red surfaces a day later without the last block", have=before_refresh, want=["envelope_backlog"])
    evidence.expect("red surfaces a day later after the section", have=red_a_day_later(), want=[])


# A script's own refusals of a required input, each alone: (script, variables) -> SQLSTATE, message, hint ('': none)
EXPORT_HINT = (
    "list the instance codes: SELECT u.code FROM iu_collection_template_instance_lineage l "
    "JOIN information_unit u ON u.id = l.instance_collection_id ORDER BY 1"
)
MISSING_INPUTS = {
    "export without code": (
        "scaleout/export_instance.sql",
        {},
        "IU043",
        "export refused: -v code=<collection code> is required; nothing was written",
        EXPORT_HINT,
    ),
    "export with a blank code": (
        "scaleout/export_instance.sql",
        {"code": " "},
        "IU043",
        "export refused: -v code=<collection code> is required; nothing was written",
        EXPORT_HINT,
    ),
    "import without file": (
        "scaleout/import_instance.sql",
        {"actor": "iu-core-conv"},
        "IU043",
        "import refused: -v file=<path> is required (a text written by export_instance.sql); nothing was written",
        "",
    ),
    "import of a file that does not exist": (
        "scaleout/import_instance.sql",
        {"actor": "iu-core-conv", "file": "/nonexistent/iu-import.iutext"},
        "IU043",
        "import refused: -v file=/nonexistent/iu-import.iutext: no such readable file (relative to ",
        "write one with export_instance.sql -v code=CODE -v out=FILE",
    ),
    "a bad allow_empty (the preamble's, no hint)": (
        "scaleout/rollback_batch.sql",
        {"actor": "iu-core-12x-bulk", "allow_empty": "maybe"},
        "IU043",
        "scaleout/rollback_batch.sql refused: -v allow_empty must be true or false, got 'maybe'; nothing was done",
        "",
    ),
}


@pytest.mark.claim("G-8")
@pytest.mark.durable
@pytest.mark.parametrize("case", list(MISSING_INPUTS))
def test_a_script_missing_a_required_input_refuses_with_its_code_and_message(fresh_database, psql, evidence, case):
    """A script run without its required input exits 3 with its SQLSTATE, message and hint, and writes nothing."""
    script, variables, state, message, hint = MISSING_INPUTS[case]
    before = sup.fingerprint_of(fresh_database)
    run = psql.run(script, dsn=fresh_database, VERBOSITY="verbose", **variables)
    evidence.expect(
        "exit code and the error line (SQLSTATE: message)",
        have=[run.returncode, f"ERROR:  {state}: {message}" in run.stderr],
        want=[3, True],
        rows=[run.stderr.strip()[-400:]],
    )
    hints = [ln.removeprefix("HINT:").strip() for ln in run.stderr.splitlines() if ln.startswith("HINT:")]
    evidence.expect(
        "the hint lines",
        have=hints,
        want=[hint] if hint else [],
        rows=[run.stderr.strip()[-400:]],
    )
    evidence.expect_no_rows("tables changed", sup.fingerprint_delta(before, sup.fingerprint_of(fresh_database)))


# dirty marks aged across the 24-hour line: the oldest 30 h 05 m 30 s (printed 01d 06h 05m), two over 24 h
MARK_AGES = ["30 hours 5 minutes 30 seconds", "24 hours 30 minutes", "23 hours 30 minutes", "2 hours"]


@pytest.mark.claim("G-6")
@pytest.mark.durable
def test_refresh_stale_reports_the_dirty_marks_their_oldest_age_and_those_over_24_hours(fresh_database, psql, evidence):
    """refresh_stale.sql's dry run reports the dirty count, oldest mark's age, marks over 24 h; live leaves none."""
    with connect(fresh_database, autocommit=True) as conn:
        conn.execute("DELETE FROM iu_three_axis_envelope_dirty")
        ids = [r[0] for r in conn.execute("SELECT id FROM information_unit WHERE kind = 'collection' ORDER BY code")]
        for cid, age in zip(ids, MARK_AGES, strict=False):
            conn.execute(
                "INSERT INTO iu_three_axis_envelope_dirty (collection_id, marked_at, reason) "
                "VALUES (%s, now() - %s::interval, 'proof')",
                [cid, age],
            )
        marks = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_dirty").fetchone()[0]
    dry = psql.run("envelope-refresh/refresh_stale.sql", dsn=fresh_database)
    want_dry = (
        f"envelope refresh (dry run): {marks} dirty collection(s) would be refreshed (oldest mark 01d 06h 05m old, "
        "2 over 24 hours); nothing was changed; -v live=true commits"
    )
    evidence.expect("marks set (counted apart)", have=marks, want=len(MARK_AGES))
    evidence.expect_true("the dry run's line", want_dry in dry.stdout, rows=[want_dry, dry.output[-400:]])
    live = psql.run("envelope-refresh/refresh_stale.sql", dsn=fresh_database, live="true")
    again = psql.run("envelope-refresh/refresh_stale.sql", dsn=fresh_database)
    with connect(fresh_database, autocommit=True) as conn:
        left = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_dirty").fetchone()[0]
    evidence.expect(
        "exits (dry, live, dry again) and marks left",
        have=[dry.returncode, live.returncode, again.returncode, left],
        want=[0, 0, 0, 0],
    )
    want_none = (
        "envelope refresh (dry run): 0 dirty collection(s) would be refreshed (oldest mark - old, 0 over 24 hours); "
        "nothing was changed; -v live=true commits"
    )
    evidence.expect_true("nothing dirty: the dry run's line", want_none in again.stdout, rows=[again.output[-400:]])
