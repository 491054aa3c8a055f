"""``iu-healthcheck``: run ``dot_iu_healthcheck()`` and report it.

Prints one line per surface (or ``--json``) and exits 0 when every surface is
green, 1 when any is red, 2 when the database cannot be reached or lacks the
substrate. With ``--push-url`` the result is also pushed to an Uptime Kuma
push monitor; a failed push is reported but never changes the exit code.

The DSN comes from ``--dsn``, else ``IU_HEALTHCHECK_DSN``, else ``IU_PROVE_DSN``;
the push URL from ``--push-url`` or ``IU_HEALTHCHECK_PUSH_URL``. Passwords and
push tokens are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from iu_prove import config
from iu_prove.dsn import TargetUnavailable, connect, mask
from iu_prove.preflight import missing_objects

EXIT_GREEN, EXIT_RED, EXIT_UNAVAILABLE = 0, 1, 2
DSN_ENV = ("IU_HEALTHCHECK_DSN", "IU_PROVE_DSN")
PUSH_ENV = "IU_HEALTHCHECK_PUSH_URL"
QUERY = "SELECT surface, ok, detail FROM dot_iu_healthcheck()"


@dataclass
class Surface:
    surface: str
    ok: bool
    detail: str


@dataclass
class Result:
    target: str
    exit_code: int
    surfaces: list[Surface] = field(default_factory=list)
    error: str = ""
    elapsed_ms: int = 0
    checked_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    push: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return {EXIT_GREEN: "green", EXIT_RED: "red"}.get(self.exit_code, "unavailable")

    @property
    def red(self) -> list[Surface]:
        return [s for s in self.surfaces if not s.ok]

    def summary(self) -> str:
        if self.exit_code == EXIT_UNAVAILABLE:
            return f"healthcheck unavailable: {self.error}"
        green = len(self.surfaces) - len(self.red)
        line = f"{len(self.surfaces)} surfaces: {green} green, {len(self.red)} red"
        if self.red:
            line += " (" + ", ".join(s.surface for s in self.red) + ")"
        elif not self.surfaces:
            line += " (no surface registered)"
        return line

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "target": self.target,
            "checked_at": self.checked_at,
            "elapsed_ms": self.elapsed_ms,
            "summary": self.summary(),
            "green": len(self.surfaces) - len(self.red),
            "red": len(self.red),
            "surfaces": [{"surface": s.surface, "ok": s.ok, "detail": s.detail} for s in self.surfaces],
            "error": self.error or None,
            "push": self.push,
        }


def check(dsn: str, *, connect_timeout: int = 10, statement_timeout_ms: int = 30000) -> Result:
    """Run the healthcheck in a read-only transaction that is rolled back."""
    started = time.monotonic()
    result = Result(target=mask(dsn), exit_code=EXIT_UNAVAILABLE)
    try:
        conn = connect(dsn, connect_timeout=connect_timeout)
    except TargetUnavailable as exc:
        result.error = str(exc)
        return result
    try:
        conn.read_only = True
        conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(statement_timeout_ms)])
        missing = missing_objects(conn)
        if missing:
            result.error = (
                f"{mask(dsn)} lacks the IU core substrate ({len(missing)} objects missing: "
                + ", ".join(missing[:5])
                + (", …" if len(missing) > 5 else "")
                + ")"
            )
            return result
        rows = conn.execute(QUERY).fetchall()
        result.surfaces = [Surface(str(s), bool(ok), str(detail or "")) for s, ok, detail in rows]
        result.exit_code = EXIT_RED if (not rows or any(not s.ok for s in result.surfaces)) else EXIT_GREEN
    except Exception as exc:  # a broken session is "cannot check", never a silent green
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        result.error = f"healthcheck query failed on {mask(dsn)}: {first}"
        result.exit_code = EXIT_UNAVAILABLE
    finally:
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        with contextlib.suppress(Exception):
            conn.rollback()
        conn.close()
    return result


def push_target(url: str) -> str:
    """The push URL without its token (path) or query: what may be printed."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


def push_url_for(url: str, result: Result) -> str:
    """Uptime Kuma push: ``status=up|down``, ``msg``, ``ping`` set on the monitor's URL."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query.update(
        status="up" if result.exit_code == EXIT_GREEN else "down",
        msg=result.summary()[:200],
        ping=str(result.elapsed_ms),
    )
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def push(url: str, result: Result, *, timeout: float = 5.0) -> dict[str, Any]:
    outcome: dict[str, Any] = {"target": push_target(url), "status": "up" if result.exit_code == EXIT_GREEN else "down"}
    try:
        with urllib.request.urlopen(push_url_for(url, result), timeout=timeout) as resp:
            outcome.update(ok=200 <= resp.status < 300, http_status=resp.status)
    except urllib.error.HTTPError as exc:
        outcome.update(ok=False, http_status=exc.code, error=f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        outcome.update(ok=False, error=str(reason))
    return outcome


def render_table(result: Result) -> str:
    lines = [f"iu-healthcheck {result.target} at {result.checked_at}"]
    if result.surfaces:
        width = max(len("surface"), *(len(s.surface) for s in result.surfaces))
        lines.append(f"{'surface':<{width}}  ok   detail")
        lines.append(f"{'-' * width}  ---  {'-' * 6}")
        lines += [f"{s.surface:<{width}}  {'OK ' if s.ok else 'RED'}  {s.detail}" for s in result.surfaces]
    lines.append(result.summary())
    if result.push is not None:
        p = result.push
        state = "pushed" if p.get("ok") else f"push FAILED ({p.get('error') or p.get('http_status')})"
        lines.append(f"uptime kuma: {state} status={p['status']} to {p['target']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iu-healthcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help=f"database to check (default: ${DSN_ENV[0]}, then ${DSN_ENV[1]})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--push-url", help=f"Uptime Kuma push URL (default: ${PUSH_ENV}; optional)")
    parser.add_argument("--push-timeout", type=float, default=5.0, help="seconds to wait for the push (default 5)")
    parser.add_argument("--connect-timeout", type=int, default=10, help="seconds to wait for the database (default 10)")
    args = parser.parse_args(argv)

    dsn = args.dsn or next((v for k in DSN_ENV if (v := config.env(k))), "")
    if dsn:
        result = check(dsn, connect_timeout=args.connect_timeout)
    else:
        result = Result(target="(none)", exit_code=EXIT_UNAVAILABLE)
        result.error = f"no database given: pass --dsn or set {' or '.join(DSN_ENV)}"
    push_url = args.push_url or config.env(PUSH_ENV) or ""
    if push_url:
        result.push = push(push_url, result, timeout=args.push_timeout)

    if args.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        print(render_table(result))
    if args.json and result.exit_code == EXIT_UNAVAILABLE:
        print(f"iu-healthcheck: {result.error}", file=sys.stderr)
    if result.push is not None and not result.push.get("ok"):
        print(f"iu-healthcheck: push to {result.push['target']} failed: {result.push.get('error')}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
