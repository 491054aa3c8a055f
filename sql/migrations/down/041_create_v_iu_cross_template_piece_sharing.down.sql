-- Revert 041: drop the cross-template piece-sharing view and its command.
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/041_create_v_iu_cross_template_piece_sharing.down.sql
-- changes: dot_iu_cross_template_piece_sharing(), v_iu_cross_template_piece_sharing, ledger row 041
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 041 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 041 is pending again

\set down_version 041
BEGIN;
\ir _lib/guard.sql

DROP FUNCTION dot_iu_cross_template_piece_sharing();
DROP VIEW v_iu_cross_template_piece_sharing;
DELETE FROM iu_core_schema_migration WHERE version = '041';

COMMIT;
