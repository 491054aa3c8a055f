"""Root conftest: project-level markers and hooks only.

The harness (options, database targets, isolation, evidence, report) is the
``iu_prove`` pytest plugin, loaded through its entry point; its fixtures live
in ``iu_prove/fix_*.py``.
"""

from __future__ import annotations

import pytest

SUITE_MARKERS = [
    "suite: a test of the suite itself (tests/), not a carry-forward claim",
    "slow: runs nested proof runs; seconds to minutes",
    "xdist_group(name): suite tests sharing a session fixture run in one xdist worker (make runs --dist loadgroup)",
]


def pytest_configure(config: pytest.Config) -> None:
    for line in SUITE_MARKERS:
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = config.rootpath / "tests"
    for item in items:
        if tests_dir in item.path.parents:
            item.add_marker(pytest.mark.suite)
