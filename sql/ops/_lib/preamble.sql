-- sql/ops/_lib/preamble.sql: the start every ops script shares (\ir ../_lib/preamble.sql).
--
-- The script sets, before including it:
--   ops_script   its path under sql/ops/, for messages       e.g. scaleout/rollback_batch.sql
--   ops_accepts  the variables it accepts, space-separated   e.g. 'actor live allow_empty'
--   ops_needs    a function it needs (regprocedure text)      e.g. 'public.fn_iu_assert_actor(text)'
--   ops_needs_migration  the migration that creates it        e.g. 001_create_fn_iu_assert_actor
--
-- It then, before anything is written:
--   1. refuses (IU043) every known variable (_lib/variables.sql) the script does not
--      accept, old spellings included (dry_run, confirm: going live is -v live=true),
--      naming the variables the script accepts;
--   2. defaults live and allow_empty to false and parses them: exactly true or false
--      (any case), anything else refused (IU043); ops_live / ops_allow_empty hold the result;
--   3. checks the substrate (IU044): iu_core_config exists, and the function the script
--      needs exists, else names the migration to apply and the database it reached;
--   4. sets ops_conn, the connection arguments of this run (-h -p -U -d, quoted for
--      a POSIX shell; never a password), for the follow-up commands the script prints.
-- Unknown names (a typo such as -v acter=) cannot be detected: psql cannot list them.

\set ON_ERROR_STOP on
\set QUIET on
\set SHOW_CONTEXT never

\ir variables.sql

SELECT coalesce(string_agg(g.name, ', ' ORDER BY g.ord), '') AS ops_refused,
       coalesce(string_agg(g.name, ', ' ORDER BY g.ord), '') <> '' AS ops_has_refused,
       coalesce(bool_or(g.name IN ('dry_run', 'confirm')), false) AS ops_old_spelling
  FROM unnest(string_to_array(btrim(:'ops_given'), ' ')) WITH ORDINALITY AS g(name, ord)
 WHERE g.name <> '' AND NOT g.name = ANY (string_to_array(btrim(:'ops_accepts'), ' ')) \gset
\if :ops_has_refused
  SELECT set_config('iu_ops.code', 'IU043', false) AS c,
         set_config('iu_ops.msg',
           format('%s refused: -v %s %s not a variable of this script; it accepts: %s; nothing was done',
                  :'ops_script', :'ops_refused',
                  CASE WHEN position(',' IN :'ops_refused') > 0 THEN 'are' ELSE 'is' END,
                  coalesce(nullif(array_to_string(string_to_array(btrim(:'ops_accepts'), ' '), ', '), ''), 'no variables')),
           false) AS m,
         set_config('iu_ops.hint',
           CASE WHEN :'ops_old_spelling'::boolean
                THEN 'every ops script dry-runs by default and goes live with -v live=true (-v dry_run=false and -v confirm=yes are old spellings)'
                ELSE 'each script''s header lists its variables (docs/runbook.md, "Ops script conventions")' END,
           false) AS h \gset ops_raise_
  \ir raise.sql
\endif

\if :{?live}
\else
  \set live false
\endif
\if :{?allow_empty}
\else
  \set allow_empty false
\endif
SELECT CASE lower(btrim(:'live')) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END AS ops_live,
       CASE lower(btrim(:'allow_empty')) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END AS ops_allow_empty,
       lower(btrim(:'live')) NOT IN ('true', 'false') AS ops_bad_live,
       lower(btrim(:'allow_empty')) NOT IN ('true', 'false') AS ops_bad_allow_empty \gset
\if :ops_bad_live
  SELECT set_config('iu_ops.code', 'IU043', false) AS c,
         set_config('iu_ops.msg', format('%s refused: -v live must be true or false, got %L; nothing was done',
                                         :'ops_script', left(:'live', 60)), false) AS m,
         set_config('iu_ops.hint', 'leave live out for the dry run; -v live=true to go live', false) AS h \gset ops_raise_
  \ir raise.sql
\endif
\if :ops_bad_allow_empty
  SELECT set_config('iu_ops.code', 'IU043', false) AS c,
         set_config('iu_ops.msg', format('%s refused: -v allow_empty must be true or false, got %L; nothing was done',
                                         :'ops_script', left(:'allow_empty', 60)), false) AS m,
         set_config('iu_ops.hint', '', false) AS h \gset ops_raise_
  \ir raise.sql
\endif

-- the connection of this run, for the follow-up commands the script prints
SELECT format('-h %s -p %s -U %s -d %s', q.h, q.p, q.u, q.d) AS ops_conn
  FROM (SELECT CASE WHEN v ~ '^[A-Za-z0-9_./:@%+=,-]+$' THEN v ELSE '''' || replace(v, '''', '''\''''') || '''' END AS h,
               CASE WHEN p ~ '^[0-9]+$' THEN p ELSE '''' || replace(p, '''', '''\''''') || '''' END AS p,
               CASE WHEN u ~ '^[A-Za-z0-9_./:@%+=,-]+$' THEN u ELSE '''' || replace(u, '''', '''\''''') || '''' END AS u,
               CASE WHEN d ~ '^[A-Za-z0-9_./:@%+=,-]+$' THEN d ELSE '''' || replace(d, '''', '''\''''') || '''' END AS d
          FROM (SELECT :'HOST'::text AS v, :'PORT'::text AS p, :'USER'::text AS u, :'DBNAME'::text AS d) raw) q \gset

SELECT to_regclass('public.iu_core_config') IS NOT NULL AS ops_has_substrate,
       to_regprocedure(:'ops_needs') IS NOT NULL AS ops_has_needs \gset
\if :ops_has_substrate
\else
  SELECT set_config('iu_ops.code', 'IU044', false) AS c,
         set_config('iu_ops.msg',
           format('%s refused: database %s (%s) has no IU core substrate (table iu_core_config is missing); nothing was done',
                  :'ops_script', current_database(), :'ops_conn'), false) AS m,
         set_config('iu_ops.hint',
           'check that -d names the IU core database; a new database gets the substrate with: make migrate DSN=postgresql://…',
           false) AS h \gset ops_raise_
  \ir raise.sql
\endif
\if :ops_has_needs
\else
  SELECT set_config('iu_ops.code', 'IU044', false) AS c,
         set_config('iu_ops.msg',
           format('%s refused: database %s needs migration %s (%s is missing); nothing was done',
                  :'ops_script', current_database(), :'ops_needs_migration', :'ops_needs'), false) AS m,
         set_config('iu_ops.hint', 'apply the pending migrations: make migrate DSN=postgresql://… (or iu-migrate --dsn …)',
           false) AS h \gset ops_raise_
  \ir raise.sql
\endif
