"""Hypothesis settings profiles, chosen by ``IU_PROVE_PROFILE`` (or
``--hypothesis-profile``), and the strategies for the scaleout size N."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from iu_prove import config

PROFILE_ENV = "IU_PROVE_PROFILE"
DEFAULT = "dev"
# The seed's range is 20–40; the harness bound for one run is 40 unless raised.
N_MAX = {"ci": 40, "dev": 40, "thorough": 500, "bench": 40}
SEED_RANGE = (20, 40)
# fn_iu_bounded_scaleout's default bound: N above it is refused unless the bound is raised.
SCALEOUT_BOUND = 40

# Evidence accumulates across the examples of one test on purpose.
_common = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("ci", derandomize=True, database=None, max_examples=12, print_blob=True, **_common)
settings.register_profile("dev", max_examples=8, **_common)
settings.register_profile("thorough", max_examples=100, **_common)
# make bench only: one generated example per proof (the smallest N), no explicit ones — the peer comparison's single N
settings.register_profile(
    "bench", derandomize=True, database=None, max_examples=1, phases=[Phase.generate], print_blob=False, **_common
)


_loaded: str | None = None


def active() -> str:
    """The profile this process loaded (or would load)."""
    return _loaded or str(config.env(PROFILE_ENV))


def load_from_env(cli_profile: str | None) -> str:
    """Load the profile named on the command line, else by ``IU_PROVE_PROFILE``, else dev.

    Called once per process (controller and each xdist worker compute the same
    name from the same options and environment); child runs get it passed on
    explicitly (:func:`iu_prove.nested.run`).
    """
    global _loaded
    name = cli_profile or str(config.env(PROFILE_ENV))
    if name not in N_MAX:
        raise ValueError(f"unknown Hypothesis profile {name!r}; use one of {', '.join(N_MAX)}")
    settings.load_profile(name)
    _loaded = name
    return name


def n_max() -> int:
    return N_MAX.get(active(), N_MAX[DEFAULT])


def scaleout_sizes(low: int = 1, high: int | None = None) -> st.SearchStrategy[int]:
    """N for a scaleout: 1…40 in ci/dev, wider in thorough."""
    return st.integers(min_value=low, max_value=high or n_max())


def boundary_sizes() -> list[int]:
    """The N every accepting proof runs: 1, the seed's 20, the bound (40) and the profile's top."""
    return sorted({1, *SEED_RANGE, SCALEOUT_BOUND, n_max()})


def refused_sizes() -> list[int]:
    """The N every refusing proof runs: just below 1 and just above the bound."""
    return [0, SCALEOUT_BOUND + 1]


def for_every_n(test):
    """``@given(n=scaleout_sizes())`` with 1, 20, the bound and the profile's top always among the examples."""
    for n in reversed(boundary_sizes()):
        test = example(n=n)(test)
    return given(n=scaleout_sizes())(test)
