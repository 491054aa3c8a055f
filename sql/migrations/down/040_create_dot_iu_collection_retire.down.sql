-- Revert 040: drop dot_iu_collection_retire.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/040_create_dot_iu_collection_retire.down.sql
-- changes: dot_iu_collection_retire(text, boolean), ledger row 040; collections it retired stay retired
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 040 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 040 is pending again

\set down_version 040
BEGIN;
\ir _lib/guard.sql

DROP FUNCTION dot_iu_collection_retire(text, boolean);
DELETE FROM iu_core_schema_migration WHERE version = '040';

COMMIT;
