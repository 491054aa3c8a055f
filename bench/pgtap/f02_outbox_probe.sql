-- F-2: an internal outbox row is not delivered (delivery log +0), with the delivery gates shut and opened.
BEGIN;
SELECT plan(3);
CREATE TEMP TABLE before_counts AS SELECT (SELECT count(*) FROM event_outbox_delivery_log) AS deliveries;
INSERT INTO event_outbox (event_type, aggregate_id, payload)
VALUES ('iu.template.instance_auto_composed', gen_random_uuid(), '{"probe": true}');
SELECT fn_event_outbox_deliver(100);
SELECT is((SELECT count(*) FROM event_outbox_delivery_log) - (SELECT deliveries FROM before_counts), 0::bigint,
          'nothing delivered, gates shut');
SELECT fn_iu_core_config_set('iu_core.delivery_enabled', 'true'::jsonb, 'iu-core-pgtap');
SELECT fn_iu_core_config_set('iu_core.delivery_live_routes', '"iu.template.instance_auto_composed"'::jsonb, 'iu-core-pgtap');
SELECT fn_event_outbox_deliver(100);
SELECT is((SELECT count(*) FROM event_outbox_delivery_log) - (SELECT deliveries FROM before_counts), 0::bigint,
          'nothing delivered, gates open');
SELECT is_empty($$SELECT 1 FROM event_outbox WHERE payload = '{"probe": true}' AND delivered_at IS NOT NULL$$,
                'probe row undelivered');
SELECT * FROM finish();
ROLLBACK;
