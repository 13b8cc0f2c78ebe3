"""Result records (re-exported from :mod:`shallowvision._records`, where every package
that defines a record imports them without importing the evaluation package)."""

from shallowvision._records import NOT_JSON, Record, jsonable

__all__ = ["NOT_JSON", "Record", "jsonable"]
