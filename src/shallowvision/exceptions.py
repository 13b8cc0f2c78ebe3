"""The errors shallowvision raises for problems a user can fix.

Each one carries a single-line message that names the file, key or value at fault;
the CLI prints it in red and exits with code 2. A message names a parameter as a
Python caller writes it (``n_per_class=``); the CLI shows the flag that sets it
(``--n-per-class``) instead.

Two of them say whose mistake it is: :class:`ConfigError` for a bad argument or
configuration value, :class:`DataError` for bad data. Both are :class:`ValueError`
subclasses, so code written against scikit-learn's conventions still catches them.
"""

from collections.abc import Iterable

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
    """An argument or configuration value is invalid; the message names the parameter or key."""


class MissingDependencyError(ShallowVisionError, ImportError):
    """An optional dependency a feature needs is not installed; the message gives the
    ``pip install`` line."""


class OutputError(ShallowVisionError, OSError):
    """An output file cannot be written (read-only folder, full disk, no permission).

    Still an :class:`OSError`, so code that tolerates a failed write (a cache) keeps
    doing so; the file it names was left as it was before.
    """


def did_you_mean(word: str, choices: Iterable[str], n: int = 2) -> str:
    """``"did you mean 'a' or 'b'? "`` for the choices close to ``word``, or ``""``: the
    hint an error about an unknown name gives before listing the known ones."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
