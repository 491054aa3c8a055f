-- sql/ops/_lib/variables.sql: the one list of variable names the ops scripts
-- know, included by preamble.sql. psql cannot list the variables it was given,
-- so each known name is tested here one by one; a name given to a script that
-- does not accept it (another script's variable, or an old spelling) is then
-- refused by the preamble, naming the variables the script accepts.
--
-- Adding a variable to a script: add its name here too, in both places below
-- (the suite checks that every name a script accepts is on this list).
--
-- known: actor allow_empty authority bound code event_type file live n open_gates out reason sample template workflow_share
-- old:   confirm dry_run

\set ops_given ''
\if :{?actor}
  \set ops_given :ops_given ' actor'
\endif
\if :{?allow_empty}
  \set ops_given :ops_given ' allow_empty'
\endif
\if :{?authority}
  \set ops_given :ops_given ' authority'
\endif
\if :{?bound}
  \set ops_given :ops_given ' bound'
\endif
\if :{?code}
  \set ops_given :ops_given ' code'
\endif
\if :{?event_type}
  \set ops_given :ops_given ' event_type'
\endif
\if :{?file}
  \set ops_given :ops_given ' file'
\endif
\if :{?live}
  \set ops_given :ops_given ' live'
\endif
\if :{?n}
  \set ops_given :ops_given ' n'
\endif
\if :{?open_gates}
  \set ops_given :ops_given ' open_gates'
\endif
\if :{?out}
  \set ops_given :ops_given ' out'
\endif
\if :{?reason}
  \set ops_given :ops_given ' reason'
\endif
\if :{?sample}
  \set ops_given :ops_given ' sample'
\endif
\if :{?template}
  \set ops_given :ops_given ' template'
\endif
\if :{?workflow_share}
  \set ops_given :ops_given ' workflow_share'
\endif
\if :{?confirm}
  \set ops_given :ops_given ' confirm'
\endif
\if :{?dry_run}
  \set ops_given :ops_given ' dry_run'
\endif
