-- 036: envelope auto-refresh on auto-compose. Every new template instance
-- (one lineage row) refreshes the stale envelopes once, gated by
-- iu_core.three_axis_auto_refresh_enabled (shipped false). A refresh fault is
-- swallowed into iu_three_axis_envelope_trigger_error_log (021) and never
-- breaks the orchestrator. Decision: docs/decisions/036-envelope-refresh-trigger.md;
-- revert: sql/migrations/down/036_create_trg_iu_lineage_envelope_refresh.down.sql.

CREATE FUNCTION fn_iu_trg_lineage_envelope_refresh() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  v_gate    jsonb;
  v_state   text;
  v_message text;
  v_detail  text;
  v_hint    text;
  v_context text;
BEGIN
  -- Gate closed (the shipped default): no refresh and no subtransaction; the
  -- instance stays dirty until a manual or later refresh.
  SELECT c.value INTO v_gate FROM iu_core_config c WHERE c.key = 'iu_core.three_axis_auto_refresh_enabled';
  IF v_gate = 'false'::jsonb THEN
    RETURN NULL;
  END IF;

  -- One subtransaction per fire: whatever the refresh did is undone on a
  -- fault, the fault is logged, and the orchestrator's statement goes on.
  BEGIN
    IF v_gate IS DISTINCT FROM 'true'::jsonb THEN
      -- missing (IU001) or non-boolean (IU006) gate: raise through the
      -- accessor so the fault is logged below, never read as a silent false
      PERFORM fn_iu_core_gate('iu_core.three_axis_auto_refresh_enabled');
      RETURN NULL;
    END IF;
    PERFORM fn_iu_three_axis_envelope_refresh_if_stale('iu_auto_instantiate_trigger');
  EXCEPTION WHEN OTHERS OR assert_failure THEN
    GET STACKED DIAGNOSTICS v_state   = RETURNED_SQLSTATE,
                            v_message = MESSAGE_TEXT,
                            v_detail  = PG_EXCEPTION_DETAIL,
                            v_hint    = PG_EXCEPTION_HINT,
                            v_context = PG_EXCEPTION_CONTEXT;
    BEGIN
      INSERT INTO iu_three_axis_envelope_trigger_error_log (source, sqlstate, message, lineage_id, context)
      VALUES (TG_NAME, v_state, v_message, NEW.id,
              jsonb_build_object('table', TG_TABLE_NAME,
                                 'reason', 'iu_auto_instantiate_trigger',
                                 'lineage', to_jsonb(NEW),
                                 'detail', v_detail,
                                 'hint', v_hint,
                                 'error_context', v_context));
    EXCEPTION WHEN OTHERS THEN
      -- the error log itself is unwritable: still do not break the
      -- orchestrator, but never drop the fault silently
      RAISE WARNING '% could not log envelope refresh fault % (%) for lineage %: % (%)',
        TG_NAME, v_state, v_message, NEW.id, SQLERRM, SQLSTATE;
    END;
  END;
  RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION fn_iu_trg_lineage_envelope_refresh() IS
  'Trigger function: when iu_core.three_axis_auto_refresh_enabled is true, calls fn_iu_three_axis_envelope_refresh_if_stale(''iu_auto_instantiate_trigger''); any fault is rolled back to a savepoint and logged to iu_three_axis_envelope_trigger_error_log.';

CREATE TRIGGER trg_iu_lineage_envelope_refresh
  AFTER INSERT ON iu_collection_template_instance_lineage
  FOR EACH ROW EXECUTE FUNCTION fn_iu_trg_lineage_envelope_refresh();

COMMENT ON TRIGGER trg_iu_lineage_envelope_refresh ON iu_collection_template_instance_lineage IS
  'One fire per template instance: gated by iu_core.three_axis_auto_refresh_enabled, refreshes the stale envelopes (reason iu_auto_instantiate_trigger); faults are swallowed into iu_three_axis_envelope_trigger_error_log.';
