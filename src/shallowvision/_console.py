"""The rich consoles every command prints through (results to stdout, progress and errors to stderr)."""

from __future__ import annotations

import os
import sys
from functools import cache

from rich.console import Console

__all__ = ["stderr_console", "stdout_console"]

# Piped or captured output has no terminal width; tables are kept on one line each
# rather than wrapped to rich's 80-column default.
_PIPED_WIDTH = 200


def _width(stream: object) -> int | None:
    if os.environ.get("COLUMNS") or getattr(stream, "isatty", lambda: False)():
        return None
    return _PIPED_WIDTH


@cache
def stdout_console() -> Console:
    return Console(highlight=False, width=_width(sys.stdout))


@cache
def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, width=_width(sys.stderr))
