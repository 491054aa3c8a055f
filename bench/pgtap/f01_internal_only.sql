-- F-1: the five facts of the internal-only boundary hold on the shipped state.
BEGIN;
SELECT plan(5);
SELECT isnt_empty($$SELECT 1 FROM event_type_registry WHERE event_type = 'iu.template.instance_auto_composed'$$, 'registry row exists');
SELECT is((SELECT delivery_lane FROM event_type_registry WHERE event_type = 'iu.template.instance_auto_composed'),
          'internal', 'lane not live');
SELECT is_empty($$SELECT 1 FROM route_registry WHERE event_type = 'iu.template.instance_auto_composed'$$, 'no route');
SELECT ok(NOT fn_iu_core_gate('iu_core.delivery_enabled'), 'delivery off');
SELECT is((SELECT value FROM iu_core_config WHERE key = 'iu_core.delivery_live_routes'), '""'::jsonb, 'live routes empty');
SELECT * FROM finish();
ROLLBACK;
