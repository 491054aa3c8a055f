-- 012: transactional outbox and its delivery log.

CREATE TABLE event_outbox (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_type   text NOT NULL REFERENCES event_type_registry (event_type),
  aggregate_id uuid,
  payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  delivered_at timestamptz
);

CREATE INDEX event_outbox_undelivered_idx ON event_outbox (created_at) WHERE delivered_at IS NULL;
CREATE INDEX event_outbox_aggregate_id_idx ON event_outbox (aggregate_id);

COMMENT ON TABLE event_outbox IS
  'Transactional outbox: events written with the change that caused them; delivered_at set by fn_event_outbox_deliver.';

CREATE TABLE event_outbox_delivery_log (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  outbox_id   uuid NOT NULL,
  event_type  text NOT NULL,
  route       text NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX event_outbox_delivery_log_occurred_at_idx ON event_outbox_delivery_log (occurred_at);

COMMENT ON TABLE event_outbox_delivery_log IS
  'One row per (outbox event, route) delivery; retention-managed (035).';
