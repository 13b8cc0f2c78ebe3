"""The offline HTML report: stored run results become one self-contained page."""

from shallowvision.report._compare import compare_runs
from shallowvision.report._render import RunData, Section, render_report

__all__ = ["RunData", "Section", "compare_runs", "render_report"]
