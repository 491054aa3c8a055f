-- 041: cross-template piece-sharing surface.
--
-- v_iu_cross_template_piece_sharing lists every piece that appears in more
-- than one template code@version (a piece listed twice in one template is not
-- shared), with the templates, codes and kinds that share it and how many
-- template instances hold it. dot_iu_cross_template_piece_sharing() is the
-- operator command (ordered by piece code). Read-only.

CREATE VIEW v_iu_cross_template_piece_sharing AS
WITH uses AS (
  SELECT DISTINCT t.id AS template_id, t.code AS template_code, t.version AS template_version,
         t.kind AS template_kind, pc.piece_code
    FROM iu_collection_template t
   CROSS JOIN LATERAL unnest(t.piece_codes) AS pc(piece_code)
),
shared AS (
  SELECT s.piece_code,
         count(*)                                                                      AS template_count,
         count(DISTINCT s.template_code)                                               AS template_code_count,
         array_agg(s.template_code || '@' || s.template_version
                   ORDER BY s.template_code, s.template_version)                       AS templates,
         array_agg(DISTINCT s.template_code ORDER BY s.template_code)                  AS template_codes,
         array_agg(DISTINCT s.template_kind ORDER BY s.template_kind)                  AS template_kinds
    FROM uses s
   GROUP BY s.piece_code
  HAVING count(*) > 1
)
SELECT p.id                         AS piece_id,
       sh.piece_code,
       p.lifecycle_state            AS piece_lifecycle_state,
       sh.template_count,
       sh.template_code_count,
       sh.template_code_count > 1   AS shared_across_codes,
       sh.templates,
       sh.template_codes,
       sh.template_kinds,
       (SELECT count(DISTINCT m.collection_id)
          FROM iu_piece_membership m
          JOIN iu_collection_template_instance_lineage l ON l.instance_collection_id = m.collection_id
         WHERE m.piece_id = p.id)   AS instance_count
  FROM shared sh
  LEFT JOIN information_unit p ON p.code = sh.piece_code AND p.kind = 'piece';

COMMENT ON VIEW v_iu_cross_template_piece_sharing IS
  'Pieces shared by more than one template code@version: the templates (code@version), codes and kinds sharing each, with counts, and how many template instances hold the piece.';

CREATE FUNCTION dot_iu_cross_template_piece_sharing()
RETURNS TABLE(piece_code text, piece_lifecycle_state text, template_count bigint, template_code_count bigint,
              shared_across_codes boolean, templates text[], template_codes text[], template_kinds text[],
              instance_count bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT v.piece_code, v.piece_lifecycle_state, v.template_count, v.template_code_count,
         v.shared_across_codes, v.templates, v.template_codes, v.template_kinds, v.instance_count
    FROM v_iu_cross_template_piece_sharing v
   ORDER BY v.piece_code
$fn$;

COMMENT ON FUNCTION dot_iu_cross_template_piece_sharing() IS
  'Operator command: pieces shared across templates (see v_iu_cross_template_piece_sharing), ordered by piece code.';
