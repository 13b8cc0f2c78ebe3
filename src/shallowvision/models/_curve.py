"""Learning curves: validation scores against the number of training images, what the next
fit will cost, and the chart of the report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shallowvision.exceptions import ConfigError

__all__ = ["curve_sizes", "expected_fit_seconds", "last_doubling", "learning_curve_figure"]

#: Bounds of the power law that extrapolates fit times: no fit gets cheaper per image as
#: the data grows, and none of the zoo grows faster than the cube of its images.
_EXPONENTS = (1.0, 3.0)


def curve_sizes(start: int, stop: int, points: int) -> list[int]:
    """``points`` training sizes from ``start`` to ``stop``, evenly spaced on a log scale
    (ascending, distinct; fewer when the range holds fewer whole numbers)."""
    if not 1 <= start <= stop:
        raise ConfigError(f"a learning curve needs 1 <= start <= stop, got {start} and {stop}")
    sizes = {round(float(s)) for s in np.geomspace(start, stop, max(points, 1))}
    return sorted(sizes | {start, stop})


def expected_fit_seconds(measured: Sequence[tuple[int, float]], n_images: int) -> float | None:
    """Seconds a fit on ``n_images`` is expected to take, from ``(images, seconds)`` fits of
    the same model on fewer images: a power law through the two largest, its exponent
    kept within 1 to 3; linear from a single one. None without any."""
    known = sorted((n, s) for n, s in measured if n > 0 and s > 0)
    if not known:
        return None
    n1, s1 = known[-1]
    exponent = 1.0
    if len(known) > 1:
        n0, s0 = known[-2]
        if n1 > n0:
            exponent = math.log(s1 / s0) / math.log(n1 / n0)
    exponent = min(max(exponent, _EXPONENTS[0]), _EXPONENTS[1])
    return s1 * (n_images / n1) ** exponent


def last_doubling(
    points: Sequence[dict[str, Any]], metric: str = "accuracy"
) -> dict[str, Any] | None:
    """What the last doubling of the training images gained, in points (hundredths) of
    ``metric``: from half the largest size, read off the curve (linear in the log of the
    size between its two neighbours), to the largest. A curve spanning less than a
    doubling is extended along its own slope. None with fewer than two scored points.

    Returns ``{"from": images, "to": images, "gain": points, "extended": bool}``.
    """
    scored = [p for p in points if p.get(metric) is not None]
    if len(scored) < 2:
        return None
    last = scored[-1]
    half = last["n_images"] / 2
    below = [p for p in scored if p["n_images"] <= half]
    if below:
        low = below[-1]
        high = scored[len(below)]  # the first point above half
        share = math.log(half / low["n_images"]) / math.log(high["n_images"] / low["n_images"])
        start = low[metric] + share * (high[metric] - low[metric])
        gain, extended = last[metric] - start, False
    else:
        first = scored[0]
        slope = (last[metric] - first[metric]) / math.log2(last["n_images"] / first["n_images"])
        gain, extended = slope, True
    return {"from": round(half), "to": last["n_images"], "gain": 100 * gain, "extended": extended}


def learning_curve_figure(curves: Sequence[dict[str, Any]]) -> Any:
    """Validation accuracy (solid) and macro F1 (dotted) against training images, one colour
    per model, on a log x axis; ``curves`` are ``{"model", "curve": [points]}`` records."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    palette = qualitative.T10
    fig = go.Figure()
    for i, record in enumerate(curves):
        points = [p for p in record["curve"] if p.get("accuracy") is not None]
        if not points:
            continue
        colour = palette[i % len(palette)]
        x = [p["n_images"] for p in points]
        seconds = [np.nan if p.get("fit_seconds") is None else p["fit_seconds"] for p in points]
        for metric, label, dash in (
            ("accuracy", "accuracy", "solid"),
            ("f1_macro", "macro F1", "dot"),
        ):
            fig.add_scatter(
                name=f"{record['model']}: {label}",
                legendgroup=record["model"],
                x=x,
                y=[p[metric] for p in points],
                mode="lines+markers",
                line={"color": colour, "dash": dash},
                marker={"size": 8},
                customdata=seconds,
                hovertemplate=(
                    f"<b>{record['model']}</b><br>%{{x:,}} training images<br>{label}: "
                    "%{y:.4f}<br>fit: %{customdata:.1f} s<extra></extra>"
                ),
            )
    fig.update_layout(
        title="Learning curves: validation scores against training images",
        xaxis={"title": {"text": "training images"}, "type": "log"},
        yaxis={"title": {"text": "validation score"}},
        legend={"title": "model (click to toggle)"},
    )
    return fig
