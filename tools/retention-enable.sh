#!/usr/bin/env bash
# Retention enablement with a pg_dump before and after, in a run folder of its own.
#
# Usage (every value may come from the environment, which is how make passes them,
# so the DSN never appears on a command line):
#   make retention-enable DSN=postgresql://…                                 dry run: what would be deleted
#   make retention-enable DSN=postgresql://… LIVE=true [AUTHORITY='…'] [OUT=DIR] [ACTOR=NAME]
#   tools/retention-enable.sh [-o DIR] [-a ACTOR] [DSN]                      (LIVE, AUTHORITY, DSN from the environment)
#   tools/retention-enable.sh -r RUN_ID|FOLDER|DIR [-o DIR] [DSN]            undo: dry run unless LIVE=true
#
# Without LIVE=true it prints sql/ops/retention-enable/dry_run.sql and stops: no
# dump, no folder, nothing written. LIVE=true also needs the authority recorded:
# AUTHORITY='<approval reference>', or decision G-RETENTION in
# fixtures/decision-register.toml with status = "decided"; otherwise it refuses (exit 2,
# nothing written). CONFIRM= is an old spelling and is refused.
#
# A live run gets a run id (UTC time and 6 hex digits), printed at its start and
# its end, and the folder DIR/retention-enable-<run id>/ (DIR default backups/),
# created 0700 with files 0600 (whole-database dumps):
#   authority.txt                   the authority the run was made on
#   before.pgdump / after.pgdump    pg_dump -Fc of the whole database
#   dry_run.txt                     what sql/ops/retention-enable/dry_run.sql predicted
#   enable.txt                      what sql/ops/retention-enable/enable.sql deleted
#   rowcounts-before.tsv / -after.tsv  rows per table, read back from each dump
#   rowcounts-diff.tsv              tables whose row count changed: before, after, delta
# The connection and the substrate are checked before the folder exists; while
# the run is under way the folder is named …<run id>.partial, and a run that
# fails is left as …<run id>.failed with a FAILED file saying why: the undo
# never picks either. enable.sql runs in one transaction (open gate, cleanup
# live, close gate) and records the authority on the gate row.
#
# Undo: `-r RUN_ID` (a run id or a unique prefix of one, looked up in DIR),
# `-r FOLDER` (a run folder), or `-r DIR` (a folder holding exactly one completed
# run; more than one is ambiguous and refused, listing them). It re-inserts, in
# one transaction, every row of before.pgdump that the database lacks in the
# tables rowcounts-diff.tsv shows shrinking (ON CONFLICT DO NOTHING, rows still
# present are left alone) and prints the rows restored per table; without
# LIVE=true that transaction is rolled back (what it would restore). Run it soon
# after the enablement: rows that left those tables later would come back too.
set -euo pipefail
umask 077

usage() { sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2; }
die() { echo "retention-enable: $*" >&2; exit 2; }

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-${IU_BACKUP_DIR:-backups}}"
actor="${ACTOR:-iu-core-retention-enable}"
restore_from=""
while getopts ":o:a:r:h" opt; do
  case "$opt" in
    o) out="$OPTARG" ;;
    r) restore_from="$OPTARG" ;;
    a) actor="$OPTARG" ;;
    h) usage; exit 0 ;;
    *) usage; die "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { usage; die "give at most one DSN (got $#)"; }
dsn="${1:-${DSN:-}}"
[ -n "$dsn" ] || die "no DSN: make retention-enable DSN=postgresql://… (or DSN in the environment)"
masked="$(printf '%s' "$dsn" | sed -E 's#(://[^:/@]+:)[^@]*@#\1***@#; s#(password[[:space:]]*=[[:space:]]*)[^[:space:]]+#\1***#')"

[ -z "${CONFIRM+x}" ] || die "refused: CONFIRM= is an old spelling; the dry run is the default and LIVE=true goes live; nothing was written"
live="$(printf '%s' "${LIVE:-false}" | tr '[:upper:]' '[:lower:]')"
case "$live" in
  true | false) ;;
  *) die "refused: LIVE must be true or false, got '${LIVE}'; nothing was written" ;;
esac
for bin in psql pg_dump pg_restore; do
  command -v "$bin" >/dev/null || die "$bin not found; install the PostgreSQL client"
done
[ -n "$actor" ] || die "the actor is empty"

psql_run() { psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" "$@"; }

# -- undo ------------------------------------------------------------------------
completed_runs() { # completed run folders in $1, oldest first
  local f
  for f in "$1"/retention-enable-*; do
    [ -d "$f" ] && [ -f "$f/before.pgdump" ] && [[ "$(basename "$f")" =~ ^retention-enable-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$ ]] && echo "$f"
  done
  return 0
}

resolve_run() {
  local arg="$1" found
  if [ -d "$arg" ] && [ -f "$arg/before.pgdump" ]; then
    case "$(basename "$arg")" in
      *.failed | *.partial) die "refused: $arg is a failed or unfinished run (see its FAILED file); it deleted nothing, there is nothing to undo" ;;
    esac
    echo "$arg"
    return
  fi
  if [ -d "$arg" ]; then
    mapfile -t found < <(completed_runs "$arg")
    [ ${#found[@]} -gt 0 ] || die "refused: $arg holds no completed retention-enable run"
    [ ${#found[@]} -eq 1 ] || die "refused: $arg holds ${#found[@]} completed runs, which one? give its run id: $(printf '%s ' "${found[@]##*/retention-enable-}")"
    echo "${found[0]}"
    return
  fi
  [[ "$arg" =~ ^[0-9]{4}[0-9TZa-f-]*$ ]] || die "refused: '$arg' is neither a run folder nor a run id (YYYYMMDDTHHMMSSZ-xxxxxx)"
  mapfile -t found < <(completed_runs "$out" | grep -F "/retention-enable-$arg" || true)
  if [ ${#found[@]} -eq 0 ]; then
    ls -d "$out/retention-enable-$arg"*.failed >/dev/null 2>&1 &&
      die "refused: run $arg failed (see its FAILED file in $out); it deleted nothing, there is nothing to undo"
    die "refused: no completed run $arg in $out (-o DIR names another folder)"
  fi
  [ ${#found[@]} -eq 1 ] || die "refused: run id '$arg' is ambiguous in $out: $(printf '%s ' "${found[@]##*/retention-enable-}")"
  echo "${found[0]}"
}

restore() {
  local folder qt t i=0 end=ROLLBACK
  folder="$(resolve_run "$1")"
  [ -f "$folder/rowcounts-diff.tsv" ] || die "$folder holds no rowcounts-diff.tsv from tools/retention-enable.sh"
  mapfile -t shrunk < <(awk -F '\t' '$4 < 0 { print $1 }' "$folder/rowcounts-diff.tsv")
  if [ ${#shrunk[@]} -eq 0 ]; then
    echo "retention-enable: run ${folder##*/retention-enable-} removed no rows; nothing to restore"
    return 0
  fi
  for qt in "${shrunk[@]}"; do
    [[ "$qt" =~ ^public\.[a-z_][a-z0-9_]*$ ]] || die "unexpected table name $qt in $folder/rowcounts-diff.tsv"
  done
  [ "$live" = true ] && end=COMMIT
  echo "retention-enable: undo of run ${folder##*/retention-enable-} ($folder/before.pgdump) into $masked$([ "$live" = true ] || echo ' (dry run: rolled back)')"
  {
    echo 'BEGIN;'
    echo 'CREATE TEMP TABLE iu_restore_result (table_name text, restored_rows bigint) ON COMMIT DROP;'
    for qt in "${shrunk[@]}"; do
      t="${qt#public.}"
      i=$((i + 1))
      echo "CREATE TEMP TABLE iu_restore_$i (LIKE public.$t) ON COMMIT DROP;"
      pg_restore --data-only -n public -t "$t" -f - "$folder/before.pgdump" |
        sed -n '/^COPY /,/^\\\.$/p' | sed "1s/^COPY [^ ]* /COPY pg_temp.iu_restore_$i /"
      echo "WITH ins AS (INSERT INTO public.$t SELECT * FROM pg_temp.iu_restore_$i ON CONFLICT DO NOTHING RETURNING 1)"
      echo "INSERT INTO pg_temp.iu_restore_result SELECT '$qt', count(*) FROM ins;"
    done
    echo 'SELECT table_name, restored_rows FROM pg_temp.iu_restore_result ORDER BY table_name;'
    echo "$end;"
  } | psql_run -P footer=off
  if [ "$live" = true ]; then
    date -u +%Y-%m-%dT%H:%M:%SZ >>"$folder/restored.txt"
    echo "retention-enable: restore of run ${folder##*/retention-enable-} committed"
  else
    echo "retention-enable: dry run, nothing restored; LIVE=true restores"
  fi
}

if [ -n "$restore_from" ]; then
  restore "$restore_from"
  exit 0
fi

# -- enablement ---------------------------------------------------------------------
if [ "$live" != true ]; then
  psql_run -f "$here/sql/ops/retention-enable/dry_run.sql"
  echo "retention-enable: dry run only, nothing written; LIVE=true AUTHORITY='…' runs it (with dumps before and after)"
  exit 0
fi

authority="${AUTHORITY:-}"
if [ -z "$authority" ]; then
  authority="$(python3 - "$here/fixtures/decision-register.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    for d in tomllib.load(f).get("decision", []):
        if d.get("id") == "G-RETENTION" and d.get("status") == "decided":
            print(f"fixtures/decision-register.toml G-RETENTION: decided by {d.get('decided_by', '?')} at {d.get('decided_at', '?')}; evidence {d.get('evidence', '?')}")
PY
)"
fi
[ -n "$authority" ] || die "refused: no authority recorded for retention enablement: decision G-RETENTION in fixtures/decision-register.toml is not decided; record it there, or pass AUTHORITY='<approval reference>'; nothing was written"
[ "${#authority}" -le 500 ] && [[ "$authority" != *$'\n'* ]] || die "refused: AUTHORITY must be one line of at most 500 characters; nothing was written"

# connection and substrate first: a run that cannot start leaves no folder
dry_text="$(psql_run -f "$here/sql/ops/retention-enable/dry_run.sql" 2>&1)" ||
  { printf '%s\n' "$dry_text" >&2; die "cannot run the dry run on $masked; no run started, nothing written"; }

run_id="$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
final="$out/retention-enable-$run_id"
folder="$final.partial"
mkdir -p -m 700 "$out"
mkdir -m 700 "$folder"
echo "retention-enable: run $run_id on $masked -> $final (authority: $authority)"
fail() {
  echo "$1" >"$folder/FAILED"
  mv "$folder" "$final.failed"
  echo "retention-enable: run $run_id FAILED: $1; folder $final.failed (the undo never picks it)" >&2
  exit 1
}
trap 'fail "interrupted or failed at line $LINENO"' ERR INT TERM
printf '%s\n' "$authority" >"$folder/authority.txt"
printf '%s\n' "$dry_text" >"$folder/dry_run.txt"

# rows per table in a custom-format dump: the lines of each COPY block
rowcounts() {
  pg_restore --data-only -f - "$1" | awk '
    /^COPY [^ ]+ .* FROM stdin;$/ { table = $2; rows[table] = 0; inside = 1; next }
    inside && $0 == "\\." { inside = 0; next }
    inside { rows[table]++ }
    END { for (t in rows) printf "%s\t%d\n", t, rows[t] }' | LC_ALL=C sort
}

pg_dump -Fc -d "$dsn" -f "$folder/before.pgdump"
rowcounts "$folder/before.pgdump" >"$folder/rowcounts-before.tsv"

if ! psql_run -v live=true -v authority="$authority" -v actor="$actor" \
  -f "$here/sql/ops/retention-enable/enable.sql" >"$folder/enable.txt" 2>&1; then
  cat "$folder/enable.txt" >&2
  trap - ERR
  fail "enable.sql failed and rolled back; nothing was deleted"
fi
pg_dump -Fc -d "$dsn" -f "$folder/after.pgdump"
rowcounts "$folder/after.pgdump" >"$folder/rowcounts-after.tsv"

LC_ALL=C join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 \
  "$folder/rowcounts-before.tsv" "$folder/rowcounts-after.tsv" |
  awk -F '\t' '$2 != $3 { printf "%s\t%d\t%d\t%d\n", $1, $2, $3, $3 - $2 }' >"$folder/rowcounts-diff.tsv"
trap - ERR INT TERM
mv "$folder" "$final"

cat "$final/enable.txt"
tables=$(wc -l <"$final/rowcounts-before.tsv")
changed=$(wc -l <"$final/rowcounts-diff.tsv")
removed=$(awk -F '\t' '{ s += $4 } END { print -s + 0 }' "$final/rowcounts-diff.tsv")
echo
echo "row counts read back from before.pgdump and after.pgdump (tables whose count changed):"
awk -F '\t' 'BEGIN { printf "  %-50s %10s %10s %8s\n", "table", "before", "after", "delta" }
  { printf "  %-50s %10d %10d %+8d\n", $1, $2, $3, $4 }' "$final/rowcounts-diff.tsv"
echo "retention-enable: net $removed row(s) removed in $changed table(s); $((tables - changed)) other table(s) unchanged; dumps in $final"
echo "retention-enable: run $run_id done; undo (dry run first, then LIVE=true): tools/retention-enable.sh -r $run_id -o $out"
