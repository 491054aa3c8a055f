-- 021: envelope refresh log and trigger error log.

CREATE TABLE iu_three_axis_envelope_refresh_log (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  occurred_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  reason                text NOT NULL,
  -- int, not bigint: collections refreshed by one call.
  -- squawk-ignore prefer-bigint-over-int
  refreshed_count       int  NOT NULL CHECK (refreshed_count >= 0),
  refreshed_collections uuid[] NOT NULL DEFAULT '{}'
);

CREATE INDEX iu_three_axis_envelope_refresh_log_occurred_at_idx ON iu_three_axis_envelope_refresh_log (occurred_at);

COMMENT ON TABLE iu_three_axis_envelope_refresh_log IS
  'One row per envelope refresh that refreshed something (refresh-if-stale) or per manual full refresh; retention-managed.';

CREATE TABLE iu_three_axis_envelope_trigger_error_log (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  source      text NOT NULL,
  sqlstate    text,
  message     text NOT NULL,
  lineage_id  uuid,
  context     jsonb DEFAULT '{}'::jsonb
);

CREATE INDEX iu_three_axis_envelope_trigger_error_log_occurred_at_idx ON iu_three_axis_envelope_trigger_error_log (occurred_at);

COMMENT ON TABLE iu_three_axis_envelope_trigger_error_log IS
  'Swallowed envelope-refresh trigger faults (source, SQLSTATE, message, optional lineage id); retention-managed.';
