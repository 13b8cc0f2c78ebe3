"""Load test of ``shallowvision serve`` on 127.0.0.1: throughput, latency, errors and memory.

The real console script serves a logistic regression trained on Fashion-MNIST; N client
threads (each with its own keep-alive connection) send M requests each, cycling through
four kinds: one image as JSON pixels, one PNG upload, a JSON batch and a batch of PNG
uploads. The load runs in rounds; the server's resident memory is sampled throughout
and must not grow from round to round. Every answer must be 200 (no 5xx at all).

The baseline, measured in the same run, is the model's in-process ``predict_proba`` on
the same images, one at a time and in batches: the ratio says what HTTP, decoding and
JSON cost on top of the model itself.

With --hostile, every client also sends, among its good requests, what an attacker
would: decompression bombs (a PNG header beyond Pillow's limit, a compressed text chunk
beyond its limit), a 16-bit 4096x4096 PNG (a few KB that decode to the whole pixel
budget) and batches of 64 blank 4096x4096 PNGs (in a 1 MB body); and --stallers more
connections send a request's headers and a few bytes of its body, then stall. Good
requests must still be answered 200, hostile ones 4xx (or 200 for the 16-bit image,
which is within the limits), stalled ones 408; no 5xx at all. The server's peak RSS is
compared with its cap: the RSS after warm-up plus, per concurrent prediction, the
costliest conversion (13 bytes a pixel: an RGBA image flattened onto black) of the
whole pixel budget.

Bounded: at most rounds x clients x requests requests, and --max-seconds of load.

Run:  python benchmarks/bench_serve.py [--clients 8 --requests 250 --rounds 4 --batch 16]
      python benchmarks/bench_serve.py --hostile --requests 40 --rounds 2
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
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


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra + png_chunk(b"IEND", b"")


def hostile_kinds() -> list[tuple[str, bytes, str, int, tuple[int, ...]]]:
    """(name, body, content type, images, acceptable statuses) of what an attacker sends."""
    from PIL import Image

    text_bomb = png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b" " * 2**22))
    ramp = (np.arange(4096, dtype=np.uint16)[None, :] * 16).repeat(4096, axis=0)
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, format="PNG")
    sixteen_bit = buf.getvalue()
    blank = png(np.zeros((4096, 4096), np.uint8))
    return [
        ("bomb: header", *multipart([png_header_only(20_000, 20_000)]), 1, (413,)),
        ("bomb: text chunk", *multipart([png_header_only(8, 8, text_bomb)]), 1, (413,)),
        ("16-bit 4096x4096", *multipart([sixteen_bit]), 1, (200,)),
        ("64 x 4096x4096 blank", *multipart([blank] * 64), 64, (413,)),
    ]


def stall(port: int, stop: threading.Event, results: list[tuple[float, int]]) -> None:
    """Connections that send headers and a few bytes of the body, then nothing."""
    head = (
        b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n[1, 2, 3"
    )
    while not stop.is_set():
        start = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
                conn.sendall(head)
                answer = conn.recv(64)
            status = int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else 598
        except (OSError, ValueError, IndexError):
            status = 598
        results.append((time.monotonic() - start, status))


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
    def __init__(self, model: Path, port: int, max_batch: int, *extra: str) -> None:
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
                *extra,
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
    """N threads, M requests each, cycling through ``kinds``; returns (kind, seconds, status, n_images).

    A kind is (name, body, content type, images[, acceptable statuses]); a good kind
    (no statuses given) must be answered 200 with as many predictions as images.
    """
    results: list[tuple[str, float, int, int]] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(requests):
            if time.monotonic() > deadline:
                break
            name, body, content_type, n, *_ = kinds[(index + i) % len(kinds)]
            start = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if status == 200 and json.loads(payload)["n_images"] != n:
                    status = 599  # a wrong answer counts as a server error
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
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
    parser.add_argument("--hostile", action="store_true", help="add the attacker's requests")
    parser.add_argument("--stallers", type=int, default=8, help="stalled connections (--hostile)")
    parser.add_argument("--body-timeout", type=float, default=2.0, help="the server's (--hostile)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average before: {load_average()}")

    from shallowvision.persistence import load_model

    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model_path, images = train_model(folder, args.n_per_class)
    saved = load_model(model_path)
    b = args.batch
    good = [
        ("json x1", json.dumps(images[0].tolist()).encode(), "application/json", 1),
        ("png x1", *multipart([png(images[1])]), 1),
        (f"json x{b}", json.dumps(images[:b].tolist()).encode(), "application/json", b),
        (f"png x{b}", *multipart([png(im) for im in images[b : 2 * b]]), b),
    ]
    bad = hostile_kinds() if args.hostile else []
    # Good and hostile requests alternate in each client's cycle.
    kinds: list = [k for pair in zip(good, bad, strict=False) for k in pair] if bad else good

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

    extra = ("--body-timeout", str(args.body_timeout)) if args.hostile else ()
    server = Server(model_path, free_port(), max(64, b), *extra)
    samples: list[tuple[float, float]] = []
    stalled: list[tuple[float, int]] = []
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
        alone = run_clients(server.port, good, 1, 50 * len(good), time.monotonic() + 120)
        rss_start = rss_mib(server.process.pid)
        sampler.start()
        deadline = time.monotonic() + args.max_seconds
        stop_stalling = threading.Event()
        stallers = [
            threading.Thread(target=stall, args=(server.port, stop_stalling, stalled), daemon=True)
            for _ in range(args.stallers if args.hostile else 0)
        ]
        for t in stallers:
            t.start()
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
        # The stalled connections end with their current one (answered 408).
        stop_stalling.set()
        for t in stallers:
            t.join(timeout=args.body_timeout + 30)
    finally:
        stop.set()
        code = server.stop()

    print(
        f"server: shallowvision serve (uvicorn, 1 process), {args.clients} client threads x "
        f"{args.requests} requests x {args.rounds} rounds, kinds cycled: "
        + ", ".join(k[0] for k in kinds)
    )
    rows = []
    for name, _, _, n, *expected in kinds:
        lat = np.array([x[1] for x in all_results if x[0] == name]) * 1000
        answered = [x[2] for x in all_results if x[0] == name]
        row = {
            "request": name,
            "count": len(lat),
            "statuses": " ".join(f"{c}x{k}" for k, c in sorted(_counts(answered).items())),
            "p50 ms": float(np.percentile(lat, 50)),
            "p99 ms": float(np.percentile(lat, 99)),
        }
        if not expected:  # a good request: against its one-client time and the model itself
            solo = np.median([x[1] for x in alone if x[0] == name]) * 1000
            base_ms = baseline[n] * 1000
            row |= {
                "p50 ms, 1 client": float(solo),
                "in-process predict_proba ms (baseline)": base_ms,
                "1-client p50 / baseline": float(solo) / base_ms,
            }
        rows.append(row)
    good_names = {k[0] for k in good}
    good_results = [x for x in all_results if x[0] in good_names]
    lat = np.array([x[1] for x in good_results]) * 1000
    statuses = _counts([x[2] for x in [*alone, *all_results]])  # every answer counts
    n_images = sum(x[3] for x in good_results)
    rows.append(
        {
            "request": "all good requests",
            "count": len(lat),
            "p50 ms": float(np.percentile(lat, 50)),
            "p99 ms": float(np.percentile(lat, 99)),
        }
    )
    columns = list(dict.fromkeys(k for row in rows for k in row))
    print(table(rows, columns))
    print()
    print(table(rounds, list(rounds[0])))
    rss = np.array([s[1] for s in samples])
    fifth = max(1, len(rss) // 5)
    growth = float(np.median(rss[-fifth:]) - np.median(rss[:fifth]))
    server_ips = n_images / load_seconds
    base_ips = b / baseline[b]
    five_xx = sum(c for s, c in statuses.items() if s >= 500)
    wrong = [
        (x[0], x[2])
        for x in all_results
        if x[2] not in next((k[4] for k in kinds if k[0] == x[0] and len(k) > 4), (200,))
    ]
    print()
    print(
        f"requests: {len(all_results)} in {load_seconds:.1f} s = {len(all_results) / load_seconds:.0f} req/s, "
        f"{server_ips:.0f} images/s of good requests; status counts of these and the {len(alone)} "
        f"one-client requests {dict(sorted(statuses.items()))}; 5xx: {five_xx}; "
        f"answers other than expected: {len(wrong)}"
    )
    print(
        f"good requests: p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms"
        + (" during the attack" if args.hostile else "")
    )
    print(
        f"baseline: in-process predict_proba of {b} images at a time: {base_ips:,.0f} images/s; "
        f"server / baseline throughput: {server_ips / base_ips:.3f}"
    )
    cap = None
    if args.hostile:
        stall_statuses = _counts([st for _, st in stalled])
        stall_seconds = np.array([sec for sec, _ in stalled])
        print(
            f"stalled connections: {len(stalled)} ({args.stallers} at a time), answered "
            f"{dict(sorted(stall_statuses.items()))} after {np.median(stall_seconds):.1f} s "
            f"(median; --body-timeout {args.body_timeout:g})"
        )
        five_xx += sum(c for st, c in stall_statuses.items() if st >= 500)
        wrong += [("stalled", st) for _, st in stalled if st != 408]
        # Per concurrent prediction: the whole pixel budget at the costliest conversion.
        from shallowvision.serve import DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_PIXELS

        per_request = DEFAULT_MAX_PIXELS * 13 / 2**20
        cap = rss_start + DEFAULT_MAX_CONCURRENT * per_request
        print(
            f"RSS cap: {rss_start:.1f} MiB after warm-up + {DEFAULT_MAX_CONCURRENT} concurrent "
            f"predictions x {DEFAULT_MAX_PIXELS:,} pixels x 13 bytes = {cap:.0f} MiB; "
            f"peak {rss.max():.1f} MiB"
        )
    print(
        f"server RSS: {rss_start:.1f} MiB after warm-up, {rss.min():.1f}..{rss.max():.1f} MiB during "
        f"the load ({len(rss)} samples); median of the last fifth minus the first: {growth:+.1f} MiB"
    )
    print(f"server exit code after SIGINT: {code}")
    print(f"load average after: {load_average()}")
    flat_memory = growth < max(10.0, 0.05 * rss_start) or args.hostile
    within_cap = cap is None or rss.max() <= cap
    if five_xx or wrong or not flat_memory or not within_cap or code != 0:
        print(
            "FAILED: "
            + ("5xx answers; " if five_xx else "")
            + (f"unexpected answers {wrong[:5]}; " if wrong else "")
            + ("memory grew; " if not flat_memory else "")
            + ("RSS over the cap; " if not within_cap else "")
            + (f"exit code {code}" if code else "")
        )
        sys.exit(1)


def _counts(values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


if __name__ == "__main__":
    main()
