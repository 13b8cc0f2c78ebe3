"""The Fashion-MNIST paper's benchmark protocol: its grid, its numbers, and resuming a stopped run."""

import json
import os
import signal
import subprocess
import time
from collections import Counter

import numpy as np
import pytest
from sklearn.linear_model import Perceptron
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from conftest import default_sigint
from shallowvision import ConfigError, DataError
from shallowvision.benchmark import (
    BenchmarkConfig,
    _run,
    build_classifier,
    get_benchmark_configs,
    read_benchmark_rows,
    run_benchmark,
)
from shallowvision.datasets import load
from test_cli import EXE, cli


@pytest.fixture(scope="module")
def data():
    return load("digits"), load("digits", "test")


def test_paper_grid_has_exactly_the_valid_configurations():
    configs = get_benchmark_configs("paper")
    assert Counter(c.classifier for c in configs) == {
        "DecisionTreeClassifier": 12,
        "ExtraTreeClassifier": 12,
        "RandomForestClassifier": 18,
        "GradientBoostingClassifier": 6,
        "KNeighborsClassifier": 12,
        "LogisticRegression": 6,
        "LinearSVC": 12,
        "SGDClassifier": 15,
        "Perceptron": 3,
        "PassiveAggressiveClassifier": 3,
        "SVC": 12,
        "GaussianNB": 1,
    }
    assert len({c.key for c in configs}) == len(configs) == 112
    svc = [dict(c.params) for c in configs if c.classifier == "LinearSVC"]
    # liblinear cannot solve hinge loss with an L1 penalty; Crammer-Singer ignores both.
    assert not any(p.get("loss") == "hinge" and p.get("penalty") == "l1" for p in svc)
    assert sorted(p["C"] for p in svc if p["multi_class"] == "crammer_singer") == [1, 10, 100]
    assert all(set(p) == {"C", "multi_class"} for p in svc if p["multi_class"] == "crammer_singer")
    ovr = {(p["loss"], p["penalty"]) for p in svc if p["multi_class"] == "ovr"}
    assert ovr == {("hinge", "l2"), ("squared_hinge", "l1"), ("squared_hinge", "l2")}
    sgd = {
        (dict(c.params)["loss"], dict(c.params)["penalty"])
        for c in configs
        if c.classifier == "SGDClassifier"
    }
    assert ("log_loss", "elasticnet") in sgd and len(sgd) == 15


def test_only_selects_classifiers_by_any_case_and_short_name():
    names = [c.classifier for c in get_benchmark_configs("paper", ["gaussiannb", "KNeighbors"])]
    assert Counter(names) == {"KNeighborsClassifier": 12, "GaussianNB": 1}
    with pytest.raises(
        ConfigError, match="unknown classifier 'KNeighbours': did you mean 'KNeighborsClassifier'"
    ):
        get_benchmark_configs("paper", ["KNeighbours"])
    with pytest.raises(ConfigError, match="unknown benchmark grid 'papers'; grids are: paper"):
        get_benchmark_configs("papers")


def test_configurations_map_to_the_installed_scikit_learn():
    lr = build_classifier(
        BenchmarkConfig("LogisticRegression", {"C": 10.0, "penalty": "l1"}),
        n_classes=10,
        random_state=3,
    )
    assert lr.C == 10.0 and lr.solver == "saga" and lr.random_state == 3
    if lr.get_params()["penalty"] == "deprecated":
        assert lr.l1_ratio == 1.0
    else:
        assert lr.penalty == "l1"
    nb = build_classifier(BenchmarkConfig("GaussianNB", {"priors": "uniform"}), n_classes=4)
    assert nb.priors.tolist() == [0.25] * 4
    pa = build_classifier(
        BenchmarkConfig("PassiveAggressiveClassifier", {"C": 100.0}), n_classes=10
    )
    if type(pa).__name__ == "SGDClassifier":  # the deprecated class's documented replacement
        assert (pa.loss, pa.penalty, pa.learning_rate, pa.eta0) == ("hinge", None, "pa1", 100.0)
    else:
        assert pa.C == 100.0
    knn = build_classifier(
        BenchmarkConfig("KNeighborsClassifier", {"n_neighbors": 5, "p": 1, "weights": "distance"}),
        n_classes=10,
        random_state=0,
        n_jobs=2,
    )
    assert (knn.n_neighbors, knn.p, knn.weights, knn.n_jobs) == (5, 1, "distance", 2)


def test_crammer_singer_is_the_real_solver_or_an_explained_skip(data, monkeypatch):
    train, test = data
    config = BenchmarkConfig("LinearSVC", {"C": 1.0, "multi_class": "crammer_singer"})
    model = build_classifier(config, n_classes=10, random_state=0)
    assert model.multi_class == "crammer_singer"
    X, Xt = _run.standardise(train.X, test.X)
    ovr = build_classifier(
        BenchmarkConfig(
            "LinearSVC", {"C": 1.0, "multi_class": "ovr", "loss": "squared_hinge", "penalty": "l2"}
        ),
        n_classes=10,
        random_state=0,
    )
    with pytest.warns(Warning):  # liblinear does not converge in 1,000 iterations here
        model.fit(X, train.y)
    ovr.fit(X, train.y)
    assert not np.allclose(model.coef_, ovr.coef_)  # not one-vs-rest under another name

    class WithoutCrammerSinger:  # a LinearSVC from a scikit-learn that removed multi_class
        def get_params(self):
            return {"C": 1.0, "loss": "squared_hinge", "penalty": "l2"}

    monkeypatch.setattr("sklearn.svm.LinearSVC", WithoutCrammerSinger)
    row = _run.fit_config(config, X, train.y, Xt, test.y, n_classes=10)
    assert row.status == "skipped" and row.accuracy is None
    assert (
        "no Crammer-Singer solver" in row.error and "one-vs-rest is not a substitute" in row.error
    )


def test_rows_are_the_protocol_computed_by_hand(data):
    train, test = data
    result = run_benchmark(
        train, test, only=["GaussianNB", "Perceptron"], repeats=2, random_state=5
    )
    assert [r.classifier for r in result.rows] == ["Perceptron"] * 3 + ["GaussianNB"]
    scaler = StandardScaler().fit(train.X.astype(float))
    X, Xt = scaler.transform(train.X.astype(float)), scaler.transform(test.X.astype(float))
    expected = []
    for r in range(2):
        order = np.random.default_rng(5 + r).permutation(len(X))
        model = Perceptron(penalty="l1", random_state=5 + r).fit(X[order], train.y[order])
        expected.append(model.score(Xt, test.y))
    l1 = result.rows[0]
    assert l1.params == {"penalty": "l1"} and l1.status == "ok"
    assert list(l1.scores) == pytest.approx(expected) and l1.accuracy == pytest.approx(
        np.mean(expected)
    )
    assert l1.accuracy_std == pytest.approx(np.std(expected)) and l1.fit_seconds > 0
    nb = result.rows[-1]
    uniform = GaussianNB(priors=np.full(10, 0.1)).fit(X, train.y).score(Xt, test.y)
    assert nb.scores == pytest.approx((uniform, uniform))  # GaussianNB ignores the order
    assert (nb.repeats, nb.seed, nb.n_train, nb.n_test, nb.dataset) == (2, 5, 1438, 359, "digits")
    assert result.best()["Perceptron"].accuracy == max(r.accuracy for r in result.rows[:3])


def test_interrupted_run_resumes_without_refitting_done_rows(data, tmp_path, monkeypatch):
    train, test = data
    out = tmp_path / "bench.jsonl"
    fitted = []
    real_fit = _run.fit_config

    def counting_fit(config, *args, **kwargs):
        fitted.append(config.key)
        return real_fit(config, *args, **kwargs)

    monkeypatch.setattr(_run, "fit_config", counting_fit)

    def stop_after_two(row):
        if len(fitted) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(
            train, test, only=["Perceptron", "GaussianNB"], out=out, on_row=stop_after_two
        )
    done = read_benchmark_rows(out)
    assert (
        [r.key for r in done]
        == fitted
        == [c.key for c in get_benchmark_configs("paper", ["Perceptron"])][:2]
    )
    # A kill while writing leaves an unfinished last line: it is dropped, not misread.
    with open(out, "a") as stream:
        stream.write('{"classifier": "Perceptron", "par')
    fitted.clear()
    result = run_benchmark(train, test, only=["Perceptron", "GaussianNB"], out=out)
    assert result.n_resumed == 2 and len(fitted) == 2
    assert fitted == [r.key for r in result.rows[2:]]
    lines = out.read_text().splitlines()
    assert (
        len(lines) == 4 and [json.loads(line)["classifier"] for line in lines][-1] == "GaussianNB"
    )
    again = run_benchmark(train, test, only=["Perceptron", "GaussianNB"], out=out)
    assert again.n_resumed == 4 and [r.to_dict() for r in again.rows] == [
        r.to_dict() for r in result.rows
    ]


def test_a_file_of_another_benchmark_is_refused(data, tmp_path):
    train, test = data
    out = tmp_path / "bench.jsonl"
    run_benchmark(train, test, only=["GaussianNB"], out=out)
    with pytest.raises(
        ConfigError, match=r"holds another benchmark's results \(repeats 1, this run 2\)"
    ):
        run_benchmark(train, test, only=["GaussianNB"], out=out, repeats=2)
    fewer = train.subsample(n_per_class=50)
    with pytest.raises(ConfigError, match="train_fingerprint"):
        run_benchmark(fewer, test, only=["GaussianNB"], out=out)
    out.write_text("not json\n")
    with pytest.raises(DataError, match="line 1: not a benchmark row"):
        run_benchmark(train, test, only=["GaussianNB"], out=out)


def test_time_limit_stops_a_configuration(data):
    train, test = data
    X, Xt = _run.standardise(train.X, test.X)
    config = BenchmarkConfig("GradientBoostingClassifier", {"n_estimators": 100, "max_depth": 10})
    start = time.perf_counter()
    (row,) = _run._fit_configs(
        [config],
        X,
        train.y,
        Xt,
        test.y,
        0.5,
        {"n_classes": 10, "repeats": 1, "seed": 0, "n_jobs": None},
    )
    assert row.status == "timed out" and row.error == "stopped after 0.5 s" and row.accuracy is None
    assert time.perf_counter() - start < 60


@pytest.mark.slow  # two CLI processes, one interrupted by SIGINT mid-run (about 10 s)
def test_cli_interrupted_then_resumed(tmp_path):
    out = tmp_path / "rf.jsonl"
    args = [
        EXE,
        "benchmark",
        "digits",
        "--only",
        "RandomForest",
        "--n-per-class",
        "40",
        "--out",
        str(out),
    ]
    env = {**os.environ, "COLUMNS": "300"}
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 120
    while not out.exists() or len(out.read_text().splitlines()) < 2:
        assert process.poll() is None and time.monotonic() < deadline, (
            "finished before the interrupt"
        )
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again to resume" in stderr
    before = out.read_text().splitlines()
    assert 2 <= len(before) < 18
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} of 18 rows were already in {out}" in resumed.stderr
    after = out.read_text().splitlines()
    assert after[: len(before)] == before and len(after) == 18
    assert len({json.dumps(json.loads(line)["params"], sort_keys=True) for line in after}) == 18
    assert "Best configuration of each classifier" in resumed.stdout
    assert "RandomForestClassifier" in resumed.stdout


def test_cli_bad_input_is_one_line(tmp_path):
    bad = cli("benchmark", "digits", "--only", "GaussianNB", "--out", str(tmp_path / "b.json"))
    assert bad.returncode == 2 and "--out must end in .jsonl" in bad.stderr
    unknown = cli("benchmark", "digits", "--only", "Bayes")
    assert unknown.returncode == 2 and "unknown classifier 'Bayes'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
