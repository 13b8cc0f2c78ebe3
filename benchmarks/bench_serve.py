"""Load test of ``shallowvision serve`` on 127.0.0.1: throughput, latency, errors and memory.

The real console script serves a logistic regression trained on Fashion-MNIST; N client
threads (each with its own keep-alive connection) send M requests each, cycling through
four kinds: one image as JSON pixels, one PNG upload, a JSON batch and a batch of PNG
uploads. The load runs in rounds; the server's resident memory is sampled throughout
and must not grow from round to round. Every answer must be 200 (no 5xx at all).

The baseline, measured in the same run, is the model's in-process ``predict_proba`` on
the same images, one at a time and in batches: the ratio says what HTTP, decoding and
JSON cost on top of the model itself.

Bounded: at most rounds x clients x requests requests, and --max-seconds of load.

Run:  python benchmarks/bench_serve.py [--clients 8 --requests 250 --rounds 4 --batch 16]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import machine, table


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def multipart(files: list[bytes]) -> tuple[bytes, str]:
    boundary = "shallowvisionbenchboundary"
    parts = []
    for i, data in enumerate(files):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{i}.png"\r\n'
            f"Content-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def train_model(folder: Path, n_per_class: int) -> tuple[Path, np.ndarray]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from shallowvision.datasets import load
    from shallowvision.features import PixelScaler
    from shallowvision.persistence import save_model, training_provenance

    train = load("fashion-mnist", n_per_class=n_per_class, random_state=0)
    test = load("fashion-mnist", "test")
    model = make_pipeline(PixelScaler(), LogisticRegression(max_iter=300))
    model.fit(train.X, train.labels)
    path = save_model(
        model,
        folder / "lr.skops",
        class_names=train.class_names,
        image_shape=train.image_shape,
        name="lr",
        training_data=training_provenance(train),
    )
    return path, np.asarray(test.images[:512])


class Server:
    def __init__(self, model: Path, port: int, max_batch: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shallowvision",
                "serve",
                str(model),
                "--port",
                str(port),
                "--max-batch",
                str(max_batch),
                "--no-access-log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode())  # type: ignore[union-attr]
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> int:
        self.process.send_signal(2)  # SIGINT: uvicorn shuts down cleanly
        self.process.wait(timeout=30)
        return self.process.returncode


def run_clients(port, kinds, clients, requests, deadline):
    """N threads, M requests each, cycling through ``kinds``; returns (kind, seconds, status, n_images)."""
    results: list[tuple[str, float, int, int]] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(requests):
            if time.monotonic() > deadline:
                break
            name, body, content_type, n = kinds[(index + i) % len(kinds)]
            start = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if status == 200 and json.loads(payload)["n_images"] != n:
                    status = 599  # a wrong answer counts as a server error
            except (OSError, http.client.HTTPException):
                status = 598  # a dropped connection counts as a server error
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append((name, time.perf_counter() - start, status, n))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=250, help="per client and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--n-per-class", type=int, default=500)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average before: {load_average()}")

    from shallowvision.persistence import load_model

    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model_path, images = train_model(folder, args.n_per_class)
    saved = load_model(model_path)
    b = args.batch
    kinds = [
        ("json x1", json.dumps(images[0].tolist()).encode(), "application/json", 1),
        ("png x1", *multipart([png(images[1])]), 1),
        (f"json x{b}", json.dumps(images[:b].tolist()).encode(), "application/json", b),
        (f"png x{b}", *multipart([png(im) for im in images[b : 2 * b]]), b),
    ]

    # Baseline: the model's own predict_proba in this process, one image and a batch.
    flat = images.reshape(len(images), -1)
    baseline = {}
    for n in (1, b):
        rounds = 200 if n == 1 else 50
        start = time.perf_counter()
        for i in range(rounds):
            j = (i * n) % (len(flat) - n)
            saved.estimator.predict_proba(flat[j : j + n])
        seconds = (time.perf_counter() - start) / rounds
        baseline[n] = seconds

    server = Server(model_path, free_port(), max_batch=max(64, b))
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.monotonic(), rss_mib(server.process.pid)))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        # Warm-up: every kind a few times, so that lazy imports and caches are in place.
        run_clients(server.port, kinds, 2, 2 * len(kinds), time.monotonic() + 60)
        # One client alone: the cost of a request without queueing behind others.
        alone = run_clients(server.port, kinds, 1, 50 * len(kinds), time.monotonic() + 120)
        rss_start = rss_mib(server.process.pid)
        sampler.start()
        deadline = time.monotonic() + args.max_seconds
        rounds, all_results = [], []
        load_start = time.perf_counter()
        for r in range(args.rounds):
            start = time.perf_counter()
            results = run_clients(server.port, kinds, args.clients, args.requests, deadline)
            seconds = time.perf_counter() - start
            all_results.extend(results)
            rounds.append(
                {
                    "round": r + 1,
                    "requests": len(results),
                    "seconds": seconds,
                    "req/s": len(results) / seconds,
                    "images/s": sum(x[3] for x in results) / seconds,
                    "RSS MiB at end": rss_mib(server.process.pid),
                }
            )
        load_seconds = time.perf_counter() - load_start
    finally:
        stop.set()
        code = server.stop()

    print(
        f"server: shallowvision serve (uvicorn, 1 process), {args.clients} client threads x "
        f"{args.requests} requests x {args.rounds} rounds, kinds cycled: "
        + ", ".join(k[0] for k in kinds)
    )
    rows = []
    for name, _, _, n in kinds:
        lat = np.array([x[1] for x in all_results if x[0] == name]) * 1000
        solo = np.median([x[1] for x in alone if x[0] == name]) * 1000
        base_ms = baseline[n] * 1000
        rows.append(
            {
                "request": name,
                "count": len(lat),
                "p50 ms": float(np.percentile(lat, 50)),
                "p99 ms": float(np.percentile(lat, 99)),
                "p50 ms, 1 client": float(solo),
                "in-process predict_proba ms (baseline)": base_ms,
                "1-client p50 / baseline": float(solo) / base_ms,
            }
        )
    lat = np.array([x[1] for x in all_results]) * 1000
    statuses: dict[int, int] = {}
    for x in [*alone, *all_results]:  # every answer counts for errors
        statuses[x[2]] = statuses.get(x[2], 0) + 1
    n_images = sum(x[3] for x in all_results)
    rows.append(
        {
            "request": "all",
            "count": len(lat),
            "p50 ms": float(np.percentile(lat, 50)),
            "p99 ms": float(np.percentile(lat, 99)),
        }
    )
    print(table(rows, list(rows[0])))
    print()
    print(table(rounds, list(rounds[0])))
    rss = np.array([s[1] for s in samples])
    fifth = max(1, len(rss) // 5)
    growth = float(np.median(rss[-fifth:]) - np.median(rss[:fifth]))
    server_ips = n_images / load_seconds
    base_ips = b / baseline[b]
    five_xx = sum(c for s, c in statuses.items() if s >= 500)
    print()
    print(
        f"requests: {len(all_results)} in {load_seconds:.1f} s = {len(all_results) / load_seconds:.0f} req/s, "
        f"{server_ips:.0f} images/s; status counts of these and the {len(alone)} one-client "
        f"requests {dict(sorted(statuses.items()))}; 5xx: {five_xx}"
    )
    print(
        f"p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms over all requests"
    )
    print(
        f"baseline: in-process predict_proba of {b} images at a time: {base_ips:,.0f} images/s; "
        f"server / baseline throughput: {server_ips / base_ips:.3f}"
    )
    print(
        f"server RSS: {rss_start:.1f} MiB after warm-up, {rss.min():.1f}..{rss.max():.1f} MiB during "
        f"the load ({len(rss)} samples); median of the last fifth minus the first: {growth:+.1f} MiB"
    )
    print(f"server exit code after SIGINT: {code}")
    print(f"load average after: {load_average()}")
    flat_memory = growth < max(10.0, 0.05 * rss_start)
    if five_xx or not flat_memory or code != 0:
        print(
            "FAILED: "
            + ("5xx answers; " if five_xx else "")
            + ("memory grew; " if not flat_memory else "")
            + (f"exit code {code}" if code else "")
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
