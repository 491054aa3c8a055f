-- S-2: every gate at its shipped default; an unknown key is an error; a toggle rolled back leaves no trace.
BEGIN;
SELECT plan(4);
SELECT results_eq(
  $$SELECT key, value FROM iu_core_config WHERE key LIKE 'iu_core.%' AND key IN (
      'iu_core.three_axis_auto_refresh_enabled', 'iu_core.auto_instantiate_enabled', 'iu_core.delivery_enabled',
      'iu_core.delivery_live_routes', 'iu_core.retention_enabled') ORDER BY key$$,
  $$VALUES ('iu_core.auto_instantiate_enabled', 'false'::jsonb), ('iu_core.delivery_enabled', 'false'::jsonb),
           ('iu_core.delivery_live_routes', '""'::jsonb), ('iu_core.retention_enabled', 'false'::jsonb),
           ('iu_core.three_axis_auto_refresh_enabled', 'false'::jsonb)$$,
  'every gate at its shipped default');
SELECT throws_ok($$SELECT fn_iu_core_gate('iu_core.no_such_gate')$$, 'IU001', NULL, 'unknown key is an error');
SAVEPOINT toggle;
SELECT fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, 'iu-core-pgtap');
SELECT ok(fn_iu_core_gate('iu_core.auto_instantiate_enabled'), 'gate open inside the transaction');
ROLLBACK TO SAVEPOINT toggle;
SELECT ok(NOT fn_iu_core_gate('iu_core.auto_instantiate_enabled'), 'gate back at its default after rollback');
SELECT * FROM finish();
ROLLBACK;
