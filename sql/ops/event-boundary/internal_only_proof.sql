-- internal_only_proof.sql — assert the internal-only boundary of one event type.
--
-- Usage:
--   psql -X -v ON_ERROR_STOP=1 [-v event_type=iu.template.instance_auto_composed] \
--        -f sql/ops/event-boundary/internal_only_proof.sql
--
-- Asserts the five facts (definition: fn_iu_event_boundary_facts, migration 038):
--   1 registry_row_exists  an event_type_registry row exists for the type
--   2 lane_not_live        its delivery_lane is not 'live'
--   3 no_route             no route_registry row (enabled or not) keys the type
--   4 delivery_disabled    iu_core.delivery_enabled is false
--   5 live_routes_empty    iu_core.delivery_live_routes is ""
-- Prints one line per fact; exits 0 when all five hold. Otherwise ERROR IU031
-- names every broken fact with the rows or gate values that break it, and psql
-- exits non-zero (3).
--
-- Changes: nothing (the session is read-only). Undo: nothing to undo.
-- Variables other than event_type are refused (IU043).
-- A broken fact is repaired by the rollback path in docs/runbook-event-boundary.md.

\set ops_script event-boundary/internal_only_proof.sql
\set ops_accepts 'event_type'
\set ops_needs 'public.fn_iu_event_boundary_assert(text)'
\set ops_needs_migration 038_register_event_boundary_healthcheck
\ir ../_lib/preamble.sql
\if :{?event_type}
\else
  \set event_type 'iu.template.instance_auto_composed'
\endif

SET default_transaction_read_only = on;

\echo internal-only boundary proof for :'event_type'
SELECT f.fact_no AS "#", f.fact, f.statement,
       CASE WHEN f.ok THEN 'holds' ELSE 'BROKEN' END AS status, f.detail
  FROM fn_iu_event_boundary_facts(:'event_type') AS f
 ORDER BY f.fact_no;

-- raises IU031 naming each broken fact; otherwise prints the one-line verdict
SELECT fn_iu_event_boundary_assert(:'event_type') AS verdict;
