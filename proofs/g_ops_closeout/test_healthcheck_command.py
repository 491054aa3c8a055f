"""G-5: `iu-healthcheck` exits 0 all green, 1 any red, 2 cannot connect or
substrate missing; its JSON mirrors dot_iu_healthcheck(); the Uptime Kuma push
is optional and never changes the exit code; no password is printed."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator

import pytest
from psycopg import sql

from iu_prove import paths
from iu_prove.dsn import connect
from iu_prove.psql import operator_env

COMMAND = paths.ROOT / ".venv" / "bin" / "iu-healthcheck"
SECRET = "s3cret-Pw-never-printed"
TOKEN = "kumaTOKEN123"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The timer's environment: the DSN comes by argument, a password (if any) as PGPASSWORD.
    return subprocess.run(
        [str(COMMAND), *args], env=operator_env(**(env or {})), capture_output=True, text=True, timeout=60
    )


def _healthcheck_rows(conn) -> list[dict]:
    rows = conn.execute("SELECT surface, ok, detail FROM dot_iu_healthcheck()").fetchall()
    return [{"surface": s, "ok": ok, "detail": d} for s, ok, d in rows]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def kuma() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """A stand-in Uptime Kuma push endpoint recording every push it receives."""
    received: list[dict[str, list[str]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            received.append({"path": [url.path], **urllib.parse.parse_qs(url.query)})
            body = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/push/{TOKEN}?status=up&msg=OK&ping=", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.claim("G-5")
@pytest.mark.readonly
def test_all_green_exits_0_and_the_json_mirrors_the_database(db, proof_dsn, evidence):
    """iu-healthcheck exits 0 when every surface is green; its table and JSON mirror dot_iu_healthcheck()."""
    want = _healthcheck_rows(db)
    evidence.record("surfaces in the database", len(want))
    evidence.expect("red surfaces in the database", have=[r["surface"] for r in want if not r["ok"]], want=[])
    as_json = _run("--dsn", proof_dsn, "--json")
    evidence.expect("--json exit", have=as_json.returncode, want=0, rows=[as_json.stderr[-500:]])
    doc = json.loads(as_json.stdout)
    evidence.expect("JSON surfaces", have=doc["surfaces"], want=want)
    evidence.expect(
        "JSON status, green, red, exit_code",
        have=[doc["status"], doc["green"], doc["red"], doc["exit_code"]],
        want=["green", len(want), 0, 0],
    )
    table = _run(env={"IU_HEALTHCHECK_DSN": proof_dsn})
    evidence.expect("table exit (DSN from IU_HEALTHCHECK_DSN)", have=table.returncode, want=0)
    missing = [
        r["surface"]
        for r in want
        if not any(ln.split()[:2] == [r["surface"], "OK"] for ln in table.stdout.splitlines())
    ]
    evidence.expect_no_rows("surfaces missing from the table as OK", missing)


@pytest.mark.claim("G-5")
@pytest.mark.durable
def test_a_red_surface_exits_1_and_is_named(fresh_database, evidence):
    """iu-healthcheck exits 1 and names the surface when any surface is red."""
    with connect(fresh_database) as conn:
        conn.execute(
            "UPDATE iu_three_axis_envelope SET axis_c_count = axis_c_count - 1 "
            "WHERE collection_id = (SELECT id FROM information_unit WHERE code = 'DIEU')"
        )
        conn.commit()
        want = _healthcheck_rows(conn)
        conn.rollback()
    as_json = _run("--dsn", fresh_database, "--json")
    evidence.expect(
        "--json exit", have=as_json.returncode, want=1, rows=[as_json.stdout[-1500:], as_json.stderr[-500:]]
    )
    doc = json.loads(as_json.stdout)
    evidence.expect(
        "JSON status and red surfaces",
        have=[doc["status"], [s["surface"] for s in doc["surfaces"] if not s["ok"]]],
        want=["red", ["dieu_envelope_invariant"]],
    )
    evidence.expect("JSON surfaces mirror dot_iu_healthcheck()", have=doc["surfaces"], want=want)
    table = _run("--dsn", fresh_database)
    evidence.expect("table exit", have=table.returncode, want=1)
    evidence.expect_true(
        "table marks it RED",
        any(ln.split()[:2] == ["dieu_envelope_invariant", "RED"] for ln in table.stdout.splitlines()),
    )


@pytest.mark.claim("G-5")
@pytest.mark.durable
def test_no_connection_or_no_substrate_exits_2_without_the_password(scratch_database, evidence):
    """iu-healthcheck exits 2, with one line and no password, when it cannot connect or the substrate is missing."""
    unreachable = f"postgresql://iu_nobody:{SECRET}@127.0.0.1:{_free_port()}/iu_core"
    outcomes = {}
    for label, args in {
        "unreachable": ["--dsn", unreachable, "--connect-timeout", "3"],
        "unreachable --json": ["--dsn", unreachable, "--connect-timeout", "3", "--json"],
        "key=value DSN": ["--dsn", f"host=127.0.0.1 port={_free_port()} password={SECRET} dbname=x", "--json"],
        "no substrate": ["--dsn", scratch_database, "--json"],
        "no DSN at all": ["--json"],
    }.items():
        proc = _run(*args)
        if "--json" in args:
            doc = json.loads(proc.stdout)
            status, error = doc["status"], doc["error"]
        else:
            status = "unavailable" if "healthcheck unavailable:" in proc.stdout else "?"
            error = proc.stdout.strip().splitlines()[-1]
        outcomes[label] = {
            "exit": proc.returncode,
            "status": status,
            "password shown": SECRET in proc.stdout + proc.stderr,
            "error": error[:200],
        }
    evidence.record("outcomes", outcomes)
    evidence.expect(
        "exit code, status, password shown",
        have={k: [v["exit"], v["status"], v["password shown"]] for k, v in outcomes.items()},
        want={k: [2, "unavailable", False] for k in outcomes},
    )
    evidence.expect_true(
        "the missing substrate is named", "lacks the IU core substrate" in outcomes["no substrate"]["error"]
    )


@pytest.mark.claim("G-5")
@pytest.mark.readonly
def test_the_uptime_kuma_push_is_optional_and_never_changes_the_exit_code(proof_dsn, kuma, evidence):
    """--push-url pushes up/down to Uptime Kuma; a failed push is reported and never changes the exit code."""
    url, received = kuma
    green = _run("--dsn", proof_dsn, "--push-url", url)
    evidence.expect("green run with push: exit", have=green.returncode, want=0)
    down = _run(
        "--dsn",
        f"postgresql://iu@127.0.0.1:{_free_port()}/x",
        "--connect-timeout",
        "3",
        env={"IU_HEALTHCHECK_PUSH_URL": url},
    )
    evidence.expect("unreachable database with push (URL from env): exit", have=down.returncode, want=2)
    pushes = [[r["path"][0].removeprefix("/api/push/"), r.get("status", [""])[0]] for r in received]
    evidence.expect("pushes received (token, status)", have=pushes, want=[[TOKEN, "up"], [TOKEN, "down"]])
    evidence.expect_true("push message carries the summary", all(r.get("msg") for r in received), rows=received)
    failed = _run("--dsn", proof_dsn, "--push-url", f"http://127.0.0.1:{_free_port()}/api/push/{TOKEN}", "--json")
    doc = json.loads(failed.stdout)
    evidence.expect("green run whose push fails: exit", have=failed.returncode, want=0)
    evidence.expect("push failure recorded", have=doc["push"]["ok"], want=False)
    evidence.expect_true("push failure reported on stderr", "push to" in failed.stderr and "failed" in failed.stderr)
    shown = [p for p in (green, down, failed) if TOKEN in p.stdout + p.stderr]
    evidence.expect("runs that printed the push token", have=len(shown), want=0)


# A check's rows → the surface's (ok, detail); a NULL verdict anywhere makes it red (046).
MIXED_VERDICTS = {
    "true and NULL": ("VALUES (true, 'a'), (NULL, 'b')", False, "check {fn} returned ok = NULL in 1 of 2 rows: a; b"),
    "NULL and true": (
        "VALUES (NULL::boolean, 'a'), (true, 'b')",
        False,
        "check {fn} returned ok = NULL in 1 of 2 rows: a; b",
    ),
    "NULL, true and false": (
        "VALUES (NULL::boolean, 'a'), (true, 'b'), (false, 'c')",
        False,
        "check {fn} returned ok = NULL in 1 of 3 rows: a; b; c",
    ),
    "true and false": ("VALUES (true, 'a'), (false, 'b')", False, "a; b"),
    "true and true (control)": ("VALUES (true, 'a'), (true, 'b')", True, "a; b"),
}


@pytest.mark.claim("G-5")
@pytest.mark.head("046")
@pytest.mark.intrusive
@pytest.mark.parametrize("case", list(MIXED_VERDICTS), ids=lambda c: c.replace(" ", "-"))
def test_a_null_verdict_beside_a_true_one_makes_the_surface_red(db, evidence, case):
    """A check returning ok = NULL in any row, beside true rows, gives a red line saying how many; all true is green."""
    rows, ok, detail = MIXED_VERDICTS[case]
    fn = "fn_iu_hc_g5_mixed"
    db.execute(
        sql.SQL("CREATE FUNCTION public.{}() RETURNS TABLE(ok boolean, detail text) LANGUAGE sql AS {}").format(
            sql.Identifier(fn), sql.Literal(f"SELECT * FROM ({rows}) AS v(ok, detail) ORDER BY detail")
        )
    )
    db.execute("SELECT fn_iu_healthcheck_register('g5_mixed', %s, 913, 'G-5', 'proof')", [fn])
    line = db.execute("SELECT surface, ok, detail FROM dot_iu_healthcheck() WHERE surface = 'g5_mixed'").fetchall()
    evidence.expect(
        "the surface's line (surface, ok, detail)",
        have=[tuple(r) for r in line],
        want=[("g5_mixed", ok, detail.format(fn=fn))],
    )
