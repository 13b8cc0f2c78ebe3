"""Options become the validated config sections a run uses, with the run's defaults.

A command's default is read from its section (:func:`default`), so the two cannot
drift apart, and its options are validated by the same section (:func:`build_section`),
so a value a run refuses is refused by the command too, in the command's words.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from shallowvision.exceptions import ConfigError, ShallowVisionError

__all__ = ["build_section", "default"]

SectionT = TypeVar("SectionT", bound=BaseModel)


def default(section: type[BaseModel], key: str) -> Any:
    """The run's default of ``key`` in ``section``, the one place it is set."""
    return section.model_fields[key].get_default(call_default_factory=True)


def build_section(section: type[SectionT], names: Mapping[str, str], /, **values: Any) -> SectionT:
    """``section`` holding ``values``, validated as a run's configuration is.

    A value of None takes the section's default. ``names`` say how each key reads on
    the command line (``{"n_bins": "--bins"}``); the first problem becomes a one-line
    :class:`ConfigError` in those words.
    """
    given = {key: value for key, value in values.items() if value is not None}
    try:
        return section.model_validate(given)
    except ValidationError as exc:
        raise ConfigError(_problem(section, exc.errors()[0], names)) from None


def _problem(section: type[BaseModel], error: Any, names: Mapping[str, str]) -> str:
    key = str(error["loc"][0]) if error["loc"] else ""
    name = names.get(key, key)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ShallowVisionError):  # the library's own words: an unknown model
        return str(cause)
    if cause is not None:
        return f"{name}: {cause}"
    if error["type"] == "literal_error":
        choices = ", ".join(sorted(_choices(section.model_fields[key].annotation)))
        return f"unknown {name} {error['input']!r}; choose one of {choices}"
    return f"{name}: {error['msg']}"


def _choices(annotation: Any) -> list[str]:
    """The values a ``Literal`` annotation, or a list or union of them, allows."""
    if typing.get_origin(annotation) is Literal:
        return [str(value) for value in typing.get_args(annotation)]
    return [choice for arg in typing.get_args(annotation) for choice in _choices(arg)]
