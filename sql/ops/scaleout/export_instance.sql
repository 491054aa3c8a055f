-- scaleout/export_instance.sql: text-as-code export of one collection (migration 043).
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v code=BULK12-WF-ONBOARD-v2 -f sql/ops/scaleout/export_instance.sql > instance.iutext
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v code=BULK12-WF-ONBOARD-v2 -v out=instance.iutext -f sql/ops/scaleout/export_instance.sql
--
-- Variables:
--   code  required: the collection code (an instance or any collection)
--   out   optional: write the text to this file instead of standard output
--
-- Output: exactly fn_iu_collection_export_text(code), byte for byte: the
-- canonical form (header with collection, template code@version, kind, template
-- digest, digest, piece count; one "code<TAB>content digest" line per piece in
-- order; LF line ends). Exporting the same collection twice gives the same bytes.
-- Changes nothing (a READ ONLY transaction). Undo: nothing to undo.
-- Refusals (exit 3): no -v code (IU043, naming how to list the codes), an unknown
-- or non-collection code (IU026); variables other than code and out (IU043).
-- Import it back with import_instance.sql.

\set ops_script scaleout/export_instance.sql
\set ops_accepts 'code out'
\set ops_needs 'public.fn_iu_collection_export_text(text)'
\set ops_needs_migration 043_create_fn_iu_collection_text
\ir ../_lib/preamble.sql

\if :{?code}
\else
  \set code ''
\endif
SELECT btrim(:'code') = '' AS ex_no_code \gset
\if :ex_no_code
  SELECT set_config('iu_ops.code', 'IU043', false) AS c,
         set_config('iu_ops.msg', 'export refused: -v code=<collection code> is required; nothing was written', false) AS m,
         set_config('iu_ops.hint', 'list the instance codes: SELECT u.code FROM iu_collection_template_instance_lineage l JOIN information_unit u ON u.id = l.instance_collection_id ORDER BY 1', false) AS h \gset ops_raise_
  \ir ../_lib/raise.sql
\endif

BEGIN TRANSACTION READ ONLY;
-- psql ends the value with its own newline: hand it the text without its final LF
SELECT left(fn_iu_collection_export_text(:'code'), -1) AS iu_text \gset
\pset format unaligned
\pset tuples_only on
\if :{?out}
SELECT :'iu_text' \g :out
\else
SELECT :'iu_text';
\endif
ROLLBACK;
