"""One base for every refusal the suite makes before or around a run.

A :class:`SetupError` means the run cannot start (or go on) for a reason the
user can fix: the message says what is wrong and, where there is one, what to
do. Every command-line entry point and the pytest plugin turn it into exit 2
and one line, never a traceback.
"""

from __future__ import annotations

EXIT_SETUP = 2


class SetupError(RuntimeError):
    """The target, the tools or the input cannot be used; ``remedy`` says what to do."""

    remedy: str = ""

    def __init__(self, message: str, remedy: str = ""):
        self.remedy = remedy or self.remedy
        super().__init__(message)

    def line(self) -> str:
        text = str(self).rstrip()
        return f"{text} — {self.remedy}" if self.remedy and self.remedy not in text else text


def run_cli(prog: str, body) -> int:
    """Run a command-line entry point's body: a :class:`SetupError` becomes one
    line on stderr and exit 2, Ctrl-C exit 130, never a traceback."""
    import sys

    try:
        return body()
    except SetupError as exc:
        text = exc.line()
        print(text if text.startswith(f"{prog}:") else f"{prog}: {text}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
