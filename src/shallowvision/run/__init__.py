"""The experiment runner: a validated config becomes stages that write a resumable run directory."""

from shallowvision.run._config import PRESETS, RunConfig, build_config, config_hash, to_toml
from shallowvision.run._context import Candidate, RunContext
from shallowvision.run._runner import find_run, load_run_config, run_study
from shallowvision.run._stages import STAGES, Stage, rank_candidates

__all__ = [
    "PRESETS",
    "STAGES",
    "Candidate",
    "RunConfig",
    "RunContext",
    "Stage",
    "build_config",
    "config_hash",
    "find_run",
    "load_run_config",
    "rank_candidates",
    "run_study",
    "to_toml",
]
