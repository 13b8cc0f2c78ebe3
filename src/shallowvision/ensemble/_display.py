"""Matplotlib display of an ensemble comparison (scikit-learn Display style, no pyplot state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shallowvision._plotting import Display
from shallowvision.ensemble._compare import EnsembleComparison
from shallowvision.exceptions import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["EnsembleDisplay"]

_METRICS = {"accuracy": "Accuracy", "f1_macro": "Macro F1", "roc_auc": "ROC AUC"}


class EnsembleDisplay(Display):
    """One bar per member (grey) and per ensemble (blue), best member's score marked.

    Parameters
    ----------
    comparison : EnsembleComparison
    """

    def __init__(self, comparison: EnsembleComparison) -> None:
        self.comparison = comparison

    def plot(self, ax: Axes | None = None, *, metric: str = "f1_macro") -> EnsembleDisplay:
        """Draw ``metric`` (accuracy, f1_macro or roc_auc) on ``ax``; return self."""
        if metric not in _METRICS:
            raise ConfigError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}")
        ax = self._start(ax)
        c = self.comparison
        rows = c.rows
        values = np.array(
            [np.nan if getattr(r, metric) is None else getattr(r, metric) for r in rows]
        )
        colors = ["tab:grey"] * len(c.member_rows) + ["tab:blue"] * len(c.ensemble_rows)
        y = np.arange(len(rows))[::-1]
        ax.barh(y, np.nan_to_num(values), color=colors)
        for yi, v in zip(y, values, strict=True):
            ax.text(
                0 if np.isnan(v) else v,
                yi,
                " n/a (labels only)" if np.isnan(v) else f" {v:.4f}",
                va="center",
                fontsize="small",
            )
        best = getattr(next(r for r in c.member_rows if r.model == c.best_member), metric)
        if best is not None:
            ax.axvline(best, color="black", ls=":", lw=1, label=f"best member ({c.best_member})")
            ax.legend(loc="lower right", fontsize="small")
        finite = values[np.isfinite(values)]
        low = max(0.0, float(finite.min()) - 0.05) if finite.size else 0.0
        ax.set_yticks(y, [r.model for r in rows])
        ax.set(
            xlim=(low, 1.0),
            xlabel=_METRICS[metric],
            title=f"Ensembles against their members ({c.n_eval:,} {c.evaluated_on} images)",
        )
        return self
