-- scaleout/import_instance.sql: text-as-code import of one collection (migration 043).
--
-- Usage (dry run first):
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v file=instance.iutext -v actor=iu-core-ops \
--        [-v code=NEW-CODE] -f sql/ops/scaleout/import_instance.sql
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v file=instance.iutext -v actor=iu-core-ops [-v code=NEW-CODE] \
--        -v live=true -f sql/ops/scaleout/import_instance.sql
--
-- Variables:
--   file     required: a text written by export_instance.sql
--   actor    required: recorded as created_by (and lineage actor); exact name
--   code     optional: the new collection's code (default: the code in the text,
--            which must not exist, e.g. after the original was rolled back)
--   live     default false: check everything, print the result, roll back;
--            true: commit the new collection
-- Any other known ops variable (dry_run, confirm, n, …) is refused (IU043).
--
-- What it changes, in one transaction: fn_iu_collection_import_text checks the
-- text (format, piece content digests, template and collection digests), then
-- composes the collection through fn_iu_compose; a text naming a template also
-- gets a lineage row (actor = actor), so the copy is an instance addressable by
-- actor. Before COMMIT it checks the new collection exports to the same text
-- (collection line aside). Refusals (nothing written, exit 3): IU027 malformed
-- text, IU028 a digest differs, IU004/IU005 unknown template or piece, IU003 actor,
-- IU043 no -v file or a file that cannot be read (named, with the directory psql runs in).
-- Undo: SELECT * FROM dot_iu_auto_instantiate_rollback_by_actor('<actor>', true), then
-- (…, false) when the text named a template; otherwise delete the collection's
-- memberships and the collection.

\set ops_script scaleout/import_instance.sql
\set ops_accepts 'file actor code live'
\set ops_needs 'public.fn_iu_collection_import_text(text,text,text)'
\set ops_needs_migration 043_create_fn_iu_collection_text
\ir ../_lib/preamble.sql

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

SELECT nullif(:'file', '') IS NOT NULL AS im_has_file \gset
\if :im_has_file
\else
  SELECT set_config('iu_ops.code', 'IU043', false) AS c,
         set_config('iu_ops.msg', 'import refused: -v file=<path> is required (a text written by export_instance.sql); nothing was written', false) AS m,
         set_config('iu_ops.hint', '', false) AS h \gset ops_raise_
  \ir ../_lib/raise.sql
\endif
\set im_readable `test -f :'file' && test -r :'file' && echo true || echo false`
\set im_cwd `pwd`
\if :im_readable
\else
  SELECT set_config('iu_ops.code', 'IU043', false) AS c,
         set_config('iu_ops.msg', format('import refused: -v file=%s: no such readable file (relative to %s); nothing was written', :'file', :'im_cwd'), false) AS m,
         set_config('iu_ops.hint', 'write one with export_instance.sql -v code=CODE -v out=FILE', false) AS h \gset ops_raise_
  \ir ../_lib/raise.sql
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
\if :ops_live
COMMIT;
\echo 'committed:' :im_code 'created by' :actor
\else
ROLLBACK;
\echo 'dry run: nothing written (rolled back); -v live=true commits'
\endif
