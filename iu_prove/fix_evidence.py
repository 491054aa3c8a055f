"""The ``evidence`` fixture: named observations recorded for the report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iu_prove.evidence import Evidence
from iu_prove.report import PROP_EVIDENCE


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Iterator[Evidence]:
    """Record before/after numbers and digests; ``evidence.expect`` asserts with have/want."""
    ev = Evidence()
    yield ev
    request.node.user_properties.append((PROP_EVIDENCE, ev.as_json()))
