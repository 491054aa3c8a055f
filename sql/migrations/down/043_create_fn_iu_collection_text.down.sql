-- Revert 043: drop the text-as-code export, parse and import functions.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/043_create_fn_iu_collection_text.down.sql
-- changes: fn_iu_collection_import_text(text, text, text), fn_iu_collection_text_parse(text),
--          fn_iu_collection_export_text(text), ledger row 043; imported collections stay
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 043 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 043 is pending again

\set down_version 043
BEGIN;
\ir _lib/guard.sql

DROP FUNCTION fn_iu_collection_import_text(text, text, text);
DROP FUNCTION fn_iu_collection_text_parse(text);
DROP FUNCTION fn_iu_collection_export_text(text);
DELETE FROM iu_core_schema_migration WHERE version = '043';

COMMIT;
