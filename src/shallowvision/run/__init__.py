"""The experiment runner: a validated config becomes stages that write a resumable run directory."""

from shallowvision.run._candidates import best_candidates, rank_candidates
from shallowvision.run._config import PRESETS, RunConfig, build_config, config_hash, to_toml
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
