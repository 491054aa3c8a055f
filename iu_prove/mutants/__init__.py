"""Generated SQL mutants: small faults made from the substrate's own function
bodies, each applied with ``CREATE OR REPLACE`` and run against the proofs that
call the function (``make mutate``, beside the sabotage registry).

* :mod:`iu_prove.mutants.generate` — the functions of a migrated database and
  their mutants, found with PostgreSQL's own scanner and parsers (pglast);
* :mod:`iu_prove.mutants.statements` — the statements of a PL/pgSQL body and
  the probes that tell which of them a proof reaches;
* :mod:`iu_prove.mutants.plugin` — the pytest plugin that builds the coverage
  map once and re-runs the proofs that reach a mutant in-process for each;
* :mod:`iu_prove.mutants.registry` — the registered sabotages of
  ``transaction`` mode, run in-process the same way;
* :mod:`iu_prove.mutants.run` — the shards of a generated run, attached to one
  cluster;
* :mod:`iu_prove.mutants.report` — scores per function, claim and migration
  range, and the equivalent-mutant register (``fixtures/mutants-equivalent.toml``).
"""
