"""Evidence: the named observations a proof records for the report.

``evidence.expect(name, have=…, want=…)`` records the observation and, when
they differ, notes a pgTAP-style have/want failure (plus the offending rows)
and goes on: every failed expectation of a proof is reported, and the proof
fails once, at its end (``Evidence.verdict``). A proof that makes no
expectation at all fails too (the plan check), so a proof cannot pass without
asserting, nor assert without leaving its numbers behind.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class ProofFailed(AssertionError):
    """A claim does not hold: carries have/want and the offending rows."""

    def __init__(self, name: str, have: Any, want: Any, rows: Sequence[Any] | None = None, note: str = ""):
        self.name, self.have, self.want, self.rows, self.note = name, have, want, list(rows or []), note
        self.parts: list[ProofFailed] = []
        super().__init__(self.text())

    @classmethod
    def of_all(cls, failures: Sequence[ProofFailed], planned: int) -> ProofFailed:
        """One failure carrying every failed expectation of a proof, in the order they were made."""
        if len(failures) == 1:
            return failures[0]
        combined = cls(f"{len(failures)} of {planned} expectations failed", None, None)
        combined.parts = list(failures)
        combined.args = (combined.text(),)
        return combined

    def text(self) -> str:
        if self.parts:
            return f"{self.name}\n" + "\n".join(
                f"[{k}/{len(self.parts)}] " + part.text() for k, part in enumerate(self.parts, 1)
            )
        lines = [f"{self.name}", f"    have: {_show(self.have)}", f"    want: {_show(self.want)}"]
        if self.note:
            lines.append(f"    note: {self.note}")
        if self.rows:
            lines.append(f"    offending rows ({len(self.rows)}):")
            lines += [f"      {_show(r)}" for r in self.rows[:20]]
            if len(self.rows) > 20:
                lines.append(f"      … {len(self.rows) - 20} more")
        return "\n".join(lines)


def _show(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def jsonable(value: Any) -> Any:
    """Make database values (uuid, timestamps, decimals, rows) JSON-friendly."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (uuid.UUID, dt.datetime, dt.date, dt.timedelta)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):  # lone surrogates cannot travel to the report (or between xdist processes)
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return repr(value)


class Evidence:
    """Observations of one proof, in the order they were made."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.failures: list[ProofFailed] = []
        self.planned = 0  # expectations made, held or not

    def fail(self, failure: ProofFailed) -> None:
        """Note a failed expectation; the proof fails at its end with every one of them."""
        self.failures.append(failure)

    def verdict(self, *, plan: bool = True) -> ProofFailed | None:
        """Every failed expectation as one failure, a plan failure when none was made, else None."""
        if self.failures:
            return ProofFailed.of_all(self.failures, self.planned)
        if plan and not self.planned:
            return ProofFailed("plan", have="no expectation made", want="at least one expectation")
        return None

    def record(self, name: str, value: Any) -> Any:
        self.items[name] = jsonable(value)
        return value

    def add(self, name: str, value: Any) -> None:
        """Append to a list observation (e.g. every N Hypothesis tried)."""
        self.items.setdefault(name, []).append(jsonable(value))

    def before_after(self, name: str, before: Any, after: Any) -> None:
        entry: dict[str, Any] = {"before": jsonable(before), "after": jsonable(after)}
        if isinstance(before, int) and isinstance(after, int):
            entry["delta"] = after - before
        self.items[name] = entry

    def expect(self, name: str, *, have: Any, want: Any, rows: Iterable[Any] = (), note: str = "") -> None:
        """Record ``have`` under ``name``; fail with have/want unless it equals ``want``."""
        self.record(name, have)
        self.planned += 1
        if jsonable(have) != jsonable(want):
            self.fail(ProofFailed(name, have, want, list(rows), note))

    def expect_true(self, name: str, have: Any, *, rows: Iterable[Any] = (), note: str = "") -> None:
        self.expect(name, have=bool(have), want=True, rows=rows, note=note)

    def expect_where(
        self, name: str, have: Any, test: Callable[[Any], bool], want: str, rows: Iterable[Any] = ()
    ) -> None:
        """Record ``have``; fail unless ``test(have)``; ``want`` describes the test."""
        self.record(name, have)
        self.planned += 1
        if not test(have):
            self.fail(ProofFailed(name, have, want, list(rows)))

    def expect_no_rows(self, name: str, rows: Sequence[Any]) -> None:
        """Record the count of offending rows; fail listing them unless there are none."""
        self.expect(name, have=len(rows), want=0, rows=rows)

    def as_json(self) -> str:
        return json.dumps(self.items, ensure_ascii=False, sort_keys=False)
