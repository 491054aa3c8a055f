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
-- Import it back with import_instance.sql.

\set ON_ERROR_STOP on
\set QUIET on

\if :{?code}
\else
  \set code ''
\endif

BEGIN TRANSACTION READ ONLY;
-- psql ends the value with its own newline: hand it the text without its final LF
SELECT left(fn_iu_collection_export_text(nullif(:'code', '')), -1) AS iu_text \gset
\pset format unaligned
\pset tuples_only on
\if :{?out}
SELECT :'iu_text' \g :out
\else
SELECT :'iu_text';
\endif
ROLLBACK;
