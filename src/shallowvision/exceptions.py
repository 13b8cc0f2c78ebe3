"""The errors shallowvision raises for problems a user can fix.

Each one carries a single-line message that names the file, key or value at fault;
the CLI prints it in red and exits with code 2.
"""

__all__ = ["ConfigError", "DataError", "ShallowVisionError"]


class ShallowVisionError(Exception):
    """Base class of every error caused by the user's input or environment."""


class DataError(ShallowVisionError, ValueError):
    """A dataset, file or array is missing, malformed or inconsistent."""


class ConfigError(ShallowVisionError, ValueError):
    """A configuration key or value is invalid."""
