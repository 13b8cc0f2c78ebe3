import json
import os
import subprocess
import sys
import textwrap


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )


def test_import_is_fast_and_has_no_side_effects(tmp_path):
    out = run_python(
        """
        import json, os, sys, time, warnings
        before = (list(warnings.filters), dict(os.environ))
        start = time.perf_counter()
        import shallowvision
        elapsed = time.perf_counter() - start
        print(json.dumps({
            "elapsed": elapsed,
            "heavy": sorted(m for m in ("sklearn", "matplotlib", "pandas", "plotly", "scipy") if m in sys.modules),
            "same_state": before == (list(warnings.filters), dict(os.environ)),
            "version": shallowvision.__version__,
        }))
        """,
        SHALLOWVISION_CACHE=str(tmp_path / "cache"),
    )
    report = json.loads(out.stdout)
    assert report["elapsed"] < 0.5
    assert report["heavy"] == []
    assert report["same_state"] is True
    assert not (tmp_path / "cache").exists()


def test_subpackages_are_reachable_lazily():
    import shallowvision

    assert shallowvision.datasets.load is not None
