-- 032: auto-instantiate audit trail and its joined view.

CREATE TABLE iu_auto_instantiate_event_log (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  occurred_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  template_code           text NOT NULL,
  -- int, not bigint: template versions are small ordinals.
  -- squawk-ignore prefer-bigint-over-int
  template_version        int  NOT NULL,
  instance_collection_id  uuid,
  instance_code           text,
  triggered_by            text NOT NULL,
  dry_run                 boolean NOT NULL,
  digest_matches_template boolean,
  detail                  jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX iu_auto_instantiate_event_log_triggered_by_idx ON iu_auto_instantiate_event_log (triggered_by);
CREATE INDEX iu_auto_instantiate_event_log_occurred_at_idx ON iu_auto_instantiate_event_log (occurred_at);
CREATE INDEX iu_auto_instantiate_event_log_instance_idx ON iu_auto_instantiate_event_log (instance_collection_id);

COMMENT ON TABLE iu_auto_instantiate_event_log IS
  'Audit row per dot_iu_auto_instantiate_from_event call (dry run or live); triggered_by is the actor; retention-managed.';

CREATE VIEW v_iu_auto_instantiate_event_log AS
SELECT a.id,
       a.occurred_at,
       a.template_code,
       a.template_version,
       t.id              AS template_id,
       t.kind            AS template_kind,
       a.instance_collection_id,
       a.instance_code,
       a.triggered_by,
       a.dry_run,
       a.digest_matches_template,
       l.id              AS lineage_id,
       l.actor           AS lineage_actor,
       l.template_digest,
       l.instance_digest,
       a.detail
  FROM iu_auto_instantiate_event_log a
  LEFT JOIN iu_collection_template_instance_lineage l ON l.instance_collection_id = a.instance_collection_id
  LEFT JOIN iu_collection_template t ON t.code = a.template_code AND t.version = a.template_version;

COMMENT ON VIEW v_iu_auto_instantiate_event_log IS
  'Auto-instantiate audit rows joined with their lineage row and template kind.';
