-- retention-enable/dry_run.sql: what enable.sql would delete, per retention policy.
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -f sql/ops/retention-enable/dry_run.sql
--
-- Variables: none; every known ops variable (live, confirm, …) is refused (IU043).
-- Changes nothing: it runs fn_iu_core_retention_cleanup(true) inside a READ ONLY
-- transaction that is rolled back. The gate iu_core.retention_enabled is only read.
-- Undo: nothing to undo.
-- Output: one row per retention policy (enabled or not) with its horizon, the
-- rows that would be deleted and the rows the table holds, then a summary line.

\set ops_script retention-enable/dry_run.sql
\set ops_accepts ''
\set ops_needs 'public.fn_iu_core_retention_cleanup(boolean,timestamp with time zone)'
\set ops_needs_migration 035_create_iu_core_retention_policy
\ir ../_lib/preamble.sql

BEGIN TRANSACTION READ ONLY;

\echo 'retention dry run: rows older than each policy horizon (nothing is deleted)'
SELECT p.table_name,
       p.timestamp_column,
       p.retain,
       p.enabled,
       c.horizon,
       coalesce(c.expired_rows, 0) AS would_delete,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM public.%I', p.table_name), false, true, '')))[1]::text::bigint
         AS total_rows
  FROM iu_core_retention_policy p
  LEFT JOIN fn_iu_core_retention_cleanup(true) c ON c.table_name = p.table_name
 ORDER BY p.table_name;

SELECT format('retention dry run: %s row(s) in %s enabled table(s) would be deleted; gate iu_core.retention_enabled is %s; nothing was changed',
              coalesce(sum(c.expired_rows), 0), count(*),
              CASE WHEN fn_iu_core_gate('iu_core.retention_enabled') THEN 'OPEN' ELSE 'closed' END) AS summary
  FROM fn_iu_core_retention_cleanup(true) c \gset
\echo :summary

ROLLBACK;
