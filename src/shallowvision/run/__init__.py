"""The experiment runner: a validated config becomes stages that write a resumable run directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shallowvision._lazy import lazy_names

if TYPE_CHECKING:
    from shallowvision.run._candidates import best_candidates, rank_candidates
    from shallowvision.run._config import (
        PRESETS,
        RunConfig,
        build_config,
        config_hash,
        to_toml,
    )
    from shallowvision.run._context import Candidate, RunContext
    from shallowvision.run._runner import check_run_id, find_run, load_run_config, run_study
    from shallowvision.run._stages import STAGES, Stage
    from shallowvision.run._tracking import log_run, resolve_tracking_uri

__all__ = [
    "PRESETS",
    "STAGES",
    "Candidate",
    "RunConfig",
    "RunContext",
    "Stage",
    "best_candidates",
    "build_config",
    "check_run_id",
    "config_hash",
    "find_run",
    "load_run_config",
    "log_run",
    "rank_candidates",
    "resolve_tracking_uri",
    "run_study",
    "to_toml",
]

#: Where each name is defined. Loaded on first use: the command line reads the config's
#: types to build its options, and must not pay for the stages' libraries to do so.
_HOMES = {
    **dict.fromkeys(("best_candidates", "rank_candidates"), "shallowvision.run._candidates"),
    **dict.fromkeys(
        ("PRESETS", "RunConfig", "build_config", "config_hash", "to_toml"),
        "shallowvision.run._config",
    ),
    **dict.fromkeys(("Candidate", "RunContext"), "shallowvision.run._context"),
    **dict.fromkeys(
        ("check_run_id", "find_run", "load_run_config", "run_study"), "shallowvision.run._runner"
    ),
    **dict.fromkeys(("STAGES", "Stage"), "shallowvision.run._stages"),
    **dict.fromkeys(("log_run", "resolve_tracking_uri"), "shallowvision.run._tracking"),
}

__getattr__ = lazy_names(__name__, _HOMES)
