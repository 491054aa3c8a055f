-- 011: delivery routes per event type.

CREATE TABLE route_registry (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_type text NOT NULL REFERENCES event_type_registry (event_type),
  route      text NOT NULL CHECK (btrim(route) <> ''),
  enabled    boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by text NOT NULL DEFAULT current_user,
  UNIQUE (event_type, route)
);

COMMENT ON TABLE route_registry IS
  'Delivery routes: an enabled route lets fn_event_outbox_deliver deliver live-lane events of its type.';
