"""The rich consoles every command prints through (results to stdout, progress and errors to stderr)."""

from __future__ import annotations

from functools import cache

from rich.console import Console

__all__ = ["stderr_console", "stdout_console"]


@cache
def stdout_console() -> Console:
    return Console(highlight=False)


@cache
def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)
