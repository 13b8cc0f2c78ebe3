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

# Estimators left out of these checks, each with the reason and where it is tested instead.
NOT_CHECKED: dict[str, str] = {
    "TemperatureScaling": (
        "wraps a classifier that is already fitted, while the checks fit from scratch on data "
        "of varying width; its estimator contract (clone, get_params, fit returns self, "
        "NotFittedError, classes_, n_features_in_) is tested in tests/test_evaluation_calibration.py"
    ),
}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
