-- 034: observability views (lineage orphans, digest drift) and their surfaces.

CREATE VIEW v_iu_lineage_orphans AS
SELECT l.id AS lineage_id,
       l.instance_collection_id,
       u.code AS instance_code,
       l.template_id,
       l.template_code,
       l.template_version,
       l.actor,
       l.created_at,
       r.reason
  FROM iu_collection_template_instance_lineage l
  LEFT JOIN information_unit u ON u.id = l.instance_collection_id AND u.kind = 'collection'
  LEFT JOIN iu_collection_template t ON t.id = l.template_id
 CROSS JOIN LATERAL (VALUES
         (CASE WHEN u.id IS NULL THEN 'instance_collection_missing' END),
         (CASE WHEN u.id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM iu_piece_membership m WHERE m.collection_id = l.instance_collection_id)
               THEN 'instance_has_no_memberships' END),
         (CASE WHEN t.id IS NULL THEN 'template_missing' END)
       ) AS r(reason)
 WHERE r.reason IS NOT NULL;

COMMENT ON VIEW v_iu_lineage_orphans IS
  'Lineage rows whose instance collection is missing or has no memberships, or whose template is missing; one row per (lineage, reason).';

CREATE VIEW v_iu_digest_drift AS
SELECT l.id AS lineage_id,
       l.instance_collection_id,
       u.code AS instance_code,
       l.template_code,
       l.template_version,
       l.actor,
       l.instance_digest AS recorded_instance_digest,
       d.current_instance_digest
  FROM iu_collection_template_instance_lineage l
  LEFT JOIN information_unit u ON u.id = l.instance_collection_id
 CROSS JOIN LATERAL (SELECT fn_iu_membership_digest(l.instance_collection_id) AS current_instance_digest) d
 WHERE d.current_instance_digest IS DISTINCT FROM l.instance_digest;

COMMENT ON VIEW v_iu_digest_drift IS
  'Lineage rows whose instance''s current membership digest differs from the digest recorded at composition.';

CREATE FUNCTION fn_iu_hc_lineage_orphans() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_n     bigint;
  v_names text;
BEGIN
  SELECT count(*) INTO v_n FROM v_iu_lineage_orphans;
  ok := v_n = 0;
  IF ok THEN
    detail := format('0 lineage orphans (%s lineage rows)',
                     (SELECT count(*) FROM iu_collection_template_instance_lineage));
  ELSE
    SELECT string_agg(format('%s (lineage %s): %s', coalesce(o.instance_code, o.instance_collection_id::text),
                             o.lineage_id, o.reason), ', ')
      INTO v_names
      FROM (SELECT * FROM v_iu_lineage_orphans x ORDER BY x.created_at, x.lineage_id, x.reason LIMIT 10) o;
    detail := format('%s lineage orphan row(s): %s', v_n, v_names);
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_lineage_orphans() IS
  'Healthcheck lineage_orphans: v_iu_lineage_orphans is empty; names offending instances otherwise.';

CREATE FUNCTION fn_iu_hc_digest_drift() RETURNS TABLE(ok boolean, detail text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_n     bigint;
  v_names text;
BEGIN
  SELECT count(*) INTO v_n FROM v_iu_digest_drift;
  ok := v_n = 0;
  IF ok THEN
    detail := format('0 instances with digest drift (%s lineage rows)',
                     (SELECT count(*) FROM iu_collection_template_instance_lineage));
  ELSE
    SELECT string_agg(format('%s (lineage %s)', coalesce(d.instance_code, d.instance_collection_id::text), d.lineage_id), ', ')
      INTO v_names
      FROM (SELECT * FROM v_iu_digest_drift x ORDER BY x.instance_code, x.lineage_id LIMIT 10) d;
    detail := format('%s instance(s) with digest drift: %s', v_n, v_names);
  END IF;
  RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION fn_iu_hc_digest_drift() IS
  'Healthcheck digest_drift: v_iu_digest_drift is empty; names drifting instances otherwise.';

SELECT fn_iu_healthcheck_register('lineage_orphans', 'fn_iu_hc_lineage_orphans', 60, '034',
  'No lineage row lacks its instance collection, its memberships or its template.');

SELECT fn_iu_healthcheck_register('digest_drift', 'fn_iu_hc_digest_drift', 70, '034',
  'Every instance''s current membership digest equals its recorded instance digest.');
