#!/usr/bin/env bash
# Install what the suite needs from the system, only if it is missing:
# the PostgreSQL server binaries and client (psql, pg_dump, pgbench),
# systemd-analyze, node and npm (for the migration and workflow linters),
# runuser, and (as root) the `postgres` OS user that runs the embedded server. Debian/Ubuntu via apt-get; elsewhere it says what is missing.
set -euo pipefail

missing=()
have_server() {
  local d
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then return 0; fi
  for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
  done
  command -v initdb >/dev/null
}
have_server || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
command -v pgbench >/dev/null || missing+=(postgresql-contrib)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# runuser (util-linux) starts the server as the postgres OS user; only root needs it
if [ "$(id -u)" -eq 0 ]; then command -v runuser >/dev/null || missing+=(util-linux); fi

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing system packages: ${missing[*]} — install them (as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

if [ "$(id -u)" -eq 0 ] && ! id -u "${IU_PROVE_SERVER_USER:-postgres}" >/dev/null 2>&1; then
  echo "creating the ${IU_PROVE_SERVER_USER:-postgres} OS user that runs the embedded server as root"
  useradd --system --create-home --shell /bin/bash "${IU_PROVE_SERVER_USER:-postgres}"
fi
