-- 031: lineage of template instances (no cascades: rollback deletes explicitly).

CREATE TABLE iu_collection_template_instance_lineage (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  instance_collection_id uuid NOT NULL UNIQUE REFERENCES information_unit (id),
  template_id            uuid REFERENCES iu_collection_template (id),
  template_code          text NOT NULL,
  -- int, not bigint: template versions are small ordinals.
  -- squawk-ignore prefer-bigint-over-int
  template_version       int  NOT NULL,
  template_digest        text NOT NULL,
  instance_digest        text NOT NULL,
  actor                  text NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX iu_collection_template_instance_lineage_actor_idx ON iu_collection_template_instance_lineage (actor);
CREATE INDEX iu_collection_template_instance_lineage_template_id_idx ON iu_collection_template_instance_lineage (template_id);

COMMENT ON TABLE iu_collection_template_instance_lineage IS
  'One row per template instance: which template code@version (and digest) it came from, its digest at composition, and the actor.';
