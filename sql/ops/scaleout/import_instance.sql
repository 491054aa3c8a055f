-- scaleout/import_instance.sql: text-as-code import of one collection (migration 043).
--
-- Usage (dry run first):
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v file=instance.iutext -v actor=iu-core-ops -v dry_run=true \
--        [-v code=NEW-CODE] -f sql/ops/scaleout/import_instance.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v file=instance.iutext -v actor=iu-core-ops [-v code=NEW-CODE] \
--        -f sql/ops/scaleout/import_instance.sql
--
-- Variables:
--   file     required: a text written by export_instance.sql
--   actor    required: recorded as created_by (and lineage actor); exact name
--   code     optional: the new collection's code (default: the code in the text,
--            which must not exist, e.g. after the original was rolled back)
--   dry_run  default false; true checks everything, prints the result, rolls back
--
-- What it changes, in one transaction: fn_iu_collection_import_text checks the
-- text (format, piece content digests, template and collection digests), then
-- composes the collection through fn_iu_compose; a text naming a template also
-- gets a lineage row (actor = actor), so the copy is an instance addressable by
-- actor. Before COMMIT it checks the new collection exports to the same text
-- (collection line aside). Refusals (nothing written, exit 3): IU027 malformed
-- text, IU028 a digest differs, IU004/IU005 unknown template or piece, IU003 actor.
-- Undo: SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor('<actor>', true), then
-- (…, false) when the text named a template; otherwise delete the collection's
-- memberships and the collection.

\set ON_ERROR_STOP on
\set QUIET on

\if :{?file}
\else
  \set file ''
\endif
\if :{?actor}
\else
  \set actor ''
\endif
\if :{?code}
\else
  \set code ''
\endif
\if :{?dry_run}
\else
  \set dry_run 'false'
\endif

SELECT CASE WHEN lower(btrim(:'dry_run')) IN ('true', 't', 'yes', 'y', 'on', '1') THEN 'true'
            WHEN lower(btrim(:'dry_run')) IN ('false', 'f', 'no', 'n', 'off', '0') THEN 'false'
       END AS im_dry_run,
       nullif(:'file', '') IS NOT NULL AS im_has_file \gset
SELECT set_config('iu_import.file', :'file', false) AS a, set_config('iu_import.dry_run', :'dry_run', false) AS b \gset
\if :im_has_file
\else
  DO $bad$ BEGIN
    RAISE EXCEPTION USING ERRCODE = 'IU027', MESSAGE = 'import refused: -v file=<path> is required';
  END $bad$;
\endif
\if :{?im_dry_run}
\else
  DO $bad$ BEGIN
    RAISE EXCEPTION USING ERRCODE = 'IU021',
      MESSAGE = format('import refused: dry_run must be true or false, got %L', current_setting('iu_import.dry_run'));
  END $bad$;
\endif
SELECT fn_iu_assert_actor(:'actor') AS actor_ok \gset

-- the file's content (psql drops its final newline; the parser accepts that)
\set iu_text `cat -- :'file'`

BEGIN;
SELECT fn_iu_collection_import_text(:'iu_text', nullif(:'code', ''), :'actor') AS im_id \gset
SELECT u.code AS im_code, fn_iu_membership_digest(u.id) AS im_digest,
       fn_iu_collection_export_text(u.code) AS im_export
  FROM information_unit u WHERE u.id = :'im_id' \gset
SELECT set_config('iu_import.text', :'iu_text', true) AS a,
       set_config('iu_import.export', :'im_export', true) AS b,
       set_config('iu_import.code', :'im_code', true) AS c \gset
DO $check$
DECLARE
  v_text text := current_setting('iu_import.text');
  v_exp  text := current_setting('iu_import.export');
  v_code text := current_setting('iu_import.code');
  v_orig text;
BEGIN
  IF right(v_text, 1) <> E'\n' THEN
    v_text := v_text || E'\n';
  END IF;
  v_orig := substring(v_text FROM E'\ncollection: ([^\n]*)\n');
  IF replace(v_text, E'\ncollection: ' || v_orig || E'\n', E'\ncollection: ' || v_code || E'\n') <> v_exp THEN
    RAISE EXCEPTION USING ERRCODE = 'IU028',
      MESSAGE = format('import aborted: %s does not export back to the imported text', v_code);
  END IF;
END
$check$;
SELECT format('imported %s (id %s), digest %s, as %s; it exports back to the same text',
              :'im_code', :'im_id', :'im_digest', :'actor') AS im_summary \gset
\echo :im_summary
\if :im_dry_run
ROLLBACK;
\echo 'dry run: nothing written (rolled back)'
\else
COMMIT;
\endif
