"""Hypothesis settings profiles, chosen by ``IU_PROVE_PROFILE`` (or
``--hypothesis-profile``), and the strategies for the scaleout size N."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

PROFILE_ENV = "IU_PROVE_PROFILE"
DEFAULT = "dev"
# The seed's range is 20–40; the harness bound for one run is 40 unless raised.
N_MAX = {"ci": 40, "dev": 40, "thorough": 500, "bench": 40}
SEED_RANGE = (20, 40)

# Evidence accumulates across the examples of one test on purpose.
_common = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("ci", derandomize=True, database=None, max_examples=12, print_blob=True, **_common)
settings.register_profile("dev", max_examples=8, **_common)
settings.register_profile("thorough", max_examples=100, **_common)
# make bench only: one generated example per proof (the smallest N), no explicit ones — the peer comparison's single N
settings.register_profile(
    "bench", derandomize=True, database=None, max_examples=1, phases=[Phase.generate], print_blob=False, **_common
)


def active() -> str:
    return (
        settings.get_current_profile_name()
        if hasattr(settings, "get_current_profile_name")
        else (os.environ.get(PROFILE_ENV, DEFAULT))
    )


def load_from_env(cli_profile: str | None) -> str:
    """Load the profile named on the command line, else by the env var, else dev."""
    name = cli_profile or os.environ.get(PROFILE_ENV, DEFAULT)
    if name not in N_MAX:
        raise ValueError(f"unknown Hypothesis profile {name!r}; use one of {', '.join(N_MAX)}")
    settings.load_profile(name)
    os.environ[PROFILE_ENV] = name  # xdist workers and nested runs follow the same profile
    return name


def n_max() -> int:
    return N_MAX.get(os.environ.get(PROFILE_ENV, DEFAULT), N_MAX[DEFAULT])


def scaleout_sizes(low: int = 1, high: int | None = None) -> st.SearchStrategy[int]:
    """N for a scaleout: 1…40 in ci/dev, wider in thorough."""
    return st.integers(min_value=low, max_value=high or n_max())


def for_every_n(test):
    """``@given(n=scaleout_sizes())`` with the seed's 20 and 40 always among the examples."""
    return given(n=scaleout_sizes())(example(n=20)(example(n=40)(test)))
