-- 045: gate rows are locked in one fixed order.
--
-- fn_iu_core_config_set locked only the row it changed, so two transactions
-- toggling two gates in opposite orders (A: gate 1 then gate 2; B: gate 2 then
-- gate 1) each held the row the other waited for: a deadlock, one of them
-- aborted. The setter now first locks every iu_core_config row in key order
-- (FOR UPDATE), so the first config change of a transaction takes all of them
-- in the same order every other transaction does: a second writer waits at the
-- first row and nobody holds a row another waits for out of order. Readers are
-- never blocked (plain SELECT takes no row lock). The rest is 003's setter
-- unchanged: same signature, refusals (IU001, IU003, IU006) and effect.
-- Revert: down/045_lock_iu_core_config_rows_in_key_order.down.sql.

CREATE OR REPLACE FUNCTION fn_iu_core_config_set(p_key text, p_value jsonb, p_actor text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  v_old jsonb;
BEGIN
  PERFORM fn_iu_assert_actor(p_actor);
  -- the fixed lock order: every config row, by key, before any one is changed
  PERFORM 1 FROM iu_core_config c ORDER BY c.key FOR UPDATE;
  SELECT c.value INTO v_old FROM iu_core_config c WHERE c.key = p_key;
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
  'Sets an existing config key to a value of the same JSON type, recording the actor; locks every config row in key order first (045), so concurrent gate toggles never deadlock; unknown key IU001, bad value IU006, bad actor IU003.';
