-- Revert 045: fn_iu_core_config_set back to 003's body (locks only the row it changes).
-- Not read by the migration runner.
--
-- usage:   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/migrations/down/045_lock_iu_core_config_rows_in_key_order.down.sql
-- changes: fn_iu_core_config_set(text, jsonb, text) replaced by 003's definition and comment,
--          ledger row 045
--          (one transaction; refused by the shared guard _lib/guard.sql, writing
--          nothing, unless 045 is the applied head)
-- undo:    re-apply with the runner (make migrate DSN=… or iu-migrate --dsn …): 045 is pending again

\set down_version 045
BEGIN;
\ir _lib/guard.sql

-- 003's setter, verbatim
CREATE OR REPLACE FUNCTION fn_iu_core_config_set(p_key text, p_value jsonb, p_actor text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_old jsonb;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  SELECT c.value INTO v_old FROM iu_core_config c WHERE c.key = p_key FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'IU001',
      MESSAGE = format('config refused: unknown config key %s', coalesce(quote_literal(p_key), 'NULL')),
      HINT = 'known keys: ' || coalesce((SELECT string_agg(c.key, ', ' ORDER BY c.key) FROM iu_core_config c), 'none');
  END IF;
  IF p_value IS NULL OR jsonb_typeof(p_value) = 'null' THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('config refused: value for %s is NULL', p_key);
  END IF;
  IF jsonb_typeof(p_value) <> jsonb_typeof(v_old) THEN
    RAISE EXCEPTION USING ERRCODE = 'IU006',
      MESSAGE = format('config refused: %s holds a JSON %s, got a JSON %s', p_key, jsonb_typeof(v_old), jsonb_typeof(p_value)),
      HINT = 'a key keeps its JSON type; gates take true or false';
  END IF;
  UPDATE iu_core_config c
     SET value = p_value, updated_at = now(), updated_by = p_actor
   WHERE c.key = p_key;
END
$fn$;

COMMENT ON FUNCTION fn_iu_core_config_set(text, jsonb, text) IS
  'Sets an existing config key to a value of the same JSON type, recording the actor; unknown key IU001, bad value IU006, bad actor IU003.';
DELETE FROM iu_core_schema_migration WHERE version = '045';

COMMIT;
