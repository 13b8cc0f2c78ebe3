"""The errors shallowvision raises for problems a user can fix.

Each one carries a single-line message that names the file, key or value at fault;
the CLI prints it in red and exits with code 2.
"""

__all__ = [
    "ConfigError",
    "DataError",
    "MissingDependencyError",
    "OutputError",
    "ShallowVisionError",
]


class ShallowVisionError(Exception):
    """Base class of every error caused by the user's input or environment."""


class DataError(ShallowVisionError, ValueError):
    """A dataset, file or array is missing, malformed or inconsistent."""


class ConfigError(ShallowVisionError, ValueError):
    """A configuration key or value is invalid."""


class MissingDependencyError(ShallowVisionError, ImportError):
    """An optional dependency a feature needs is not installed; the message gives the
    ``pip install`` line."""


class OutputError(ShallowVisionError, OSError):
    """An output file cannot be written (read-only folder, full disk, no permission).

    Still an :class:`OSError`, so code that tolerates a failed write (a cache) keeps
    doing so; the file it names was left as it was before.
    """
