-- D-2: gate on in the transaction, one instantiation: refresh log +1 (reason iu_auto_instantiate_trigger), its envelope right.
BEGIN;
SELECT plan(4);
CREATE TEMP TABLE before_counts AS SELECT (SELECT count(*) FROM iu_three_axis_envelope_refresh_log) AS refresh_rows;
SELECT fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, 'iu-core-pgtap');
SELECT fn_iu_core_config_set('iu_core.three_axis_auto_refresh_enabled', 'true'::jsonb, 'iu-core-pgtap');
CREATE TEMP TABLE inst AS
  SELECT * FROM dot_iu_auto_instantiate_from_event(
    (SELECT code FROM iu_collection_template ORDER BY code, version LIMIT 1), 'iu-core-pgtap', false);
SELECT is((SELECT count(*) FROM iu_three_axis_envelope_refresh_log) - (SELECT refresh_rows FROM before_counts), 1::bigint,
          'refresh log +1');
SELECT is((SELECT reason FROM iu_three_axis_envelope_refresh_log ORDER BY occurred_at DESC LIMIT 1),
          'iu_auto_instantiate_trigger', 'reason');
SELECT results_eq(
  $$SELECT axis_a_count, axis_b_count, axis_c_count FROM iu_three_axis_envelope WHERE collection_id = (SELECT instance_id FROM inst)$$,
  $$SELECT * FROM fn_iu_three_axis_envelope_compute((SELECT instance_id FROM inst))$$,
  'instance envelope cached = recomputed');
SELECT is_empty($$SELECT 1 FROM iu_three_axis_envelope_dirty WHERE collection_id = (SELECT instance_id FROM inst)$$,
                'instance not dirty');
SELECT * FROM finish();
ROLLBACK;
