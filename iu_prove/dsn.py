"""Connection strings: connect with one clear line on failure, never show a password."""

from __future__ import annotations

import re
import urllib.parse

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from iu_prove.errors import SetupError


class TargetUnavailable(SetupError):
    """The database cannot be reached or refuses us: one line, password masked."""


def mask(dsn: str) -> str:
    """Return the DSN with any password replaced by ``***``."""
    masked = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", masked)


def _password(dsn: str) -> str | None:
    try:
        return conninfo_to_dict(dsn).get("password")  # type: ignore[return-value]
    except psycopg.ProgrammingError:
        return None


def with_dbname(dsn: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return make_conninfo(dsn, dbname=dbname)


def dbname_of(dsn: str) -> str:
    return str(conninfo_to_dict(dsn).get("dbname") or "")


def connect(dsn: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection:
    """Connect, or raise :class:`TargetUnavailable` with one masked line."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        secret = _password(dsn)
        if secret:
            first = first.replace(secret, "***")
        raise TargetUnavailable(f"cannot connect to {mask(dsn)}: {first}") from None


def scrub(value):
    """Mask every password inside a JSON-like document (strings of any depth)."""
    if isinstance(value, str):
        return mask(value) if ("://" in value or "password" in value) else value
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def without_password(dsn: str) -> tuple[str, str | None]:
    """(the DSN without its password, the password): a run keeps the password in the
    environment (PGPASSWORD, which libpq, psql and pg_dump read), so no DSN string it
    passes around, prints or hands to a fixture carries it. A URI stays a URI."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.scheme in ("postgres", "postgresql"):
        if parts.password is None:
            return dsn, None
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{host}")), urllib.parse.unquote(parts.password)
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return dsn, None
    secret = info.pop("password", None)
    if not secret:
        return dsn, None
    return make_conninfo("", **info), str(secret)
