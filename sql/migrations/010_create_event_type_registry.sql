-- 010: event types and their delivery lane.

CREATE TABLE event_type_registry (
  event_type    text PRIMARY KEY CHECK (btrim(event_type) <> ''),
  delivery_lane text NOT NULL CHECK (delivery_lane IN ('internal', 'live')),
  registered_in text NOT NULL,
  description   text
);

COMMENT ON TABLE event_type_registry IS
  'Registered event types; delivery_lane internal events are never delivered by fn_event_outbox_deliver.';
