#!/usr/bin/env bash
# Retention enablement with a pg_dump before and after.
#
# Usage:
#   CONFIRM=yes tools/retention-enable.sh [-o DIR] [-a ACTOR] DSN
#   make retention-enable DSN=postgresql://… CONFIRM=yes [OUT=DIR] [ACTOR=NAME]
#   CONFIRM=yes tools/retention-enable.sh -r FOLDER DSN     (undo, see below)
#
# Refuses (exit 2, nothing written, no dump taken) unless CONFIRM=yes. Then, in
# DIR (default: backups/) it creates the dated folder retention-enable-<UTC time>/:
#   before.pgdump / after.pgdump    pg_dump -Fc of the whole database
#   dry_run.txt                     what sql/ops/retention-enable/dry_run.sql predicted
#   enable.txt                      what sql/ops/retention-enable/enable.sql deleted
#   rowcounts-before.tsv / -after.tsv  rows per table, read back from each dump
#   rowcounts-diff.tsv              tables whose row count changed: before, after, delta
# and prints that difference. enable.sql runs in one transaction (open gate,
# cleanup live, close gate); see its header.
#
# Undo: `-r FOLDER` re-inserts, in one transaction, every row of before.pgdump
# that the database lacks in the tables rowcounts-diff.tsv shows shrinking
# (ON CONFLICT DO NOTHING, so rows still present are left alone), and prints
# the rows restored per table. Run it soon after the enablement: rows that
# left those tables later for other reasons would come back too.
set -euo pipefail

usage() { sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2; }
die() { echo "retention-enable: $*" >&2; exit 2; }

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${IU_BACKUP_DIR:-backups}"
actor="iu-core-retention-enable"
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
[ $# -eq 1 ] || { usage; die "give exactly one DSN (got $#)"; }
dsn="$1"
[ -n "$dsn" ] || die "the DSN is empty (make retention-enable DSN=postgresql://…)"
masked="$(printf '%s' "$dsn" | sed -E 's#(://[^:/@]+:)[^@]*@#\1***@#; s#(password[[:space:]]*=[[:space:]]*)[^[:space:]]+#\1***#')"

if [ "${CONFIRM:-}" != "yes" ]; then
  if [ -n "$restore_from" ]; then
    die "refused: set CONFIRM=yes to restore rows from $restore_from into $masked; nothing was written"
  fi
  die "refused: set CONFIRM=yes to delete expired rows on $masked (review the dry run first:" \
    "psql -X -d \"\$DSN\" -f sql/ops/retention-enable/dry_run.sql); nothing was written"
fi
for bin in psql pg_dump pg_restore; do
  command -v "$bin" >/dev/null || die "$bin not found; install the PostgreSQL client"
done
[ -n "$actor" ] || die "the actor is empty"

psql_run() { psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" "$@"; }

# undo: put back the rows of before.pgdump the database lacks, one transaction
restore() {
  local folder="$1" qt t i=0
  [ -f "$folder/before.pgdump" ] && [ -f "$folder/rowcounts-diff.tsv" ] ||
    die "$folder holds no before.pgdump and rowcounts-diff.tsv from tools/retention-enable.sh"
  mapfile -t shrunk < <(awk -F '\t' '$4 < 0 { print $1 }' "$folder/rowcounts-diff.tsv")
  if [ ${#shrunk[@]} -eq 0 ]; then
    echo "retention-enable: $folder records no removed rows; nothing to restore"
    return 0
  fi
  for qt in "${shrunk[@]}"; do
    [[ "$qt" =~ ^public\.[a-z_][a-z0-9_]*$ ]] || die "unexpected table name $qt in $folder/rowcounts-diff.tsv"
  done
  echo "retention-enable: restoring from $folder/before.pgdump into $masked"
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
    echo 'COMMIT;'
  } | psql_run -P footer=off
  echo "retention-enable: restore committed"
}

if [ -n "$restore_from" ]; then
  restore "$restore_from"
  exit 0
fi

folder="$out/retention-enable-$(date -u +%Y%m%dT%H%M%SZ)"
[ ! -e "$folder" ] || die "$folder already exists; wait a second and rerun"
mkdir -p "$folder"

# rows per table in a custom-format dump: the lines of each COPY block
rowcounts() {
  pg_restore --data-only -f - "$1" | awk '
    /^COPY [^ ]+ .* FROM stdin;$/ { table = $2; rows[table] = 0; inside = 1; next }
    inside && $0 == "\\." { inside = 0; next }
    inside { rows[table]++ }
    END { for (t in rows) printf "%s\t%d\n", t, rows[t] }' | LC_ALL=C sort
}

echo "retention-enable: $masked -> $folder"
psql_run -f "$here/sql/ops/retention-enable/dry_run.sql" >"$folder/dry_run.txt"
pg_dump -Fc -d "$dsn" -f "$folder/before.pgdump"
rowcounts "$folder/before.pgdump" >"$folder/rowcounts-before.tsv"

if ! psql_run -v confirm=yes -v actor="$actor" -f "$here/sql/ops/retention-enable/enable.sql" \
  >"$folder/enable.txt" 2>&1; then
  cat "$folder/enable.txt" >&2
  echo "retention-enable: enable.sql failed and rolled back; nothing was deleted (before dump kept in $folder)" >&2
  exit 1
fi
pg_dump -Fc -d "$dsn" -f "$folder/after.pgdump"
rowcounts "$folder/after.pgdump" >"$folder/rowcounts-after.tsv"

LC_ALL=C join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.2,2.2 \
  "$folder/rowcounts-before.tsv" "$folder/rowcounts-after.tsv" |
  awk -F '\t' '$2 != $3 { printf "%s\t%d\t%d\t%d\n", $1, $2, $3, $3 - $2 }' >"$folder/rowcounts-diff.tsv"

cat "$folder/enable.txt"
tables=$(wc -l <"$folder/rowcounts-before.tsv")
changed=$(wc -l <"$folder/rowcounts-diff.tsv")
removed=$(awk -F '\t' '{ s += $4 } END { print -s + 0 }' "$folder/rowcounts-diff.tsv")
echo
echo "row counts read back from before.pgdump and after.pgdump (tables whose count changed):"
awk -F '\t' 'BEGIN { printf "  %-50s %10s %10s %8s\n", "table", "before", "after", "delta" }
  { printf "  %-50s %10d %10d %+8d\n", $1, $2, $3, $4 }' "$folder/rowcounts-diff.tsv"
echo "retention-enable: net $removed row(s) removed in $changed table(s); $((tables - changed)) other table(s) unchanged; dumps in $folder"
