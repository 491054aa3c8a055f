"""The ``evidence`` fixture: named observations recorded for the report.

A failed expectation does not stop the proof: every one is collected and the
proof fails once at its end with all of them (pgTAP style). A proof under
``proofs/`` that made no expectation fails (the plan check), and so does one
that does not take the ``evidence`` fixture at all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iu_prove import paths
from iu_prove.evidence import Evidence, ProofFailed
from iu_prove.report import PROP_EVIDENCE

_EVIDENCE = pytest.StashKey[Evidence]()


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Iterator[Evidence]:
    """Record before/after numbers and digests; ``evidence.expect`` asserts with have/want."""
    ev = Evidence()
    request.node.stash[_EVIDENCE] = ev
    yield ev
    request.node.user_properties.append((PROP_EVIDENCE, ev.as_json()))


def _is_proof(item: pytest.Item) -> bool:
    try:
        return item.path.resolve().is_relative_to(paths.ROOT / "proofs")
    except (AttributeError, OSError):
        return False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Fail once at the end with every failed expectation; a proof that expected nothing fails."""
    __tracebackhide__ = True
    try:
        result = yield
    except (pytest.skip.Exception, KeyboardInterrupt):
        raise
    except BaseException as exc:
        ev = item.stash.get(_EVIDENCE, None)
        if ev is not None and ev.failures:
            crash = ProofFailed(f"then the proof stopped: {type(exc).__name__}", str(exc).strip()[:500], "no error")
            raise ProofFailed.of_all([*ev.failures, crash], ev.planned + 1) from exc
        raise
    ev = item.stash.get(_EVIDENCE, None)
    if ev is None:
        if _is_proof(item):
            raise ProofFailed("plan", have="no evidence fixture", want="at least one expectation")
        return result
    failed = ev.verdict(plan=_is_proof(item))
    if failed is not None:
        raise failed
    return result
