"""scikit-learn's estimator checks over every transformer and model shallowvision defines.

Known exceptions live in ``EXPECTED_FAILURES`` below, each with its reason; nothing
else may fail.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from shallowvision.features import PixelScaler


def _estimators() -> list:
    """One instance of every estimator class the project defines."""
    return [PixelScaler()]


# estimator class name -> {check name: reason}
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
