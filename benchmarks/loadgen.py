"""The fallback load generator when wrk is absent: the same request file, keep-alive
connections in threads, wrk's figures out (requests/s, p50, p99, non-2xx, errors).

It saturates well below wrk (the GIL), so its ratios understate the service: it is there
so the smoke run works everywhere, not for the published figures.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import random
import threading
import time


def read_requests(path: str) -> tuple[dict, list[tuple[str, str, bytes | None]]]:
    headers, requests = {}, []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "H":
                headers[parts[1]] = parts[2]
            elif parts[0] == "R":
                body = parts[3].encode() if len(parts) > 3 and parts[3] else None
                requests.append((parts[1], parts[2], body))
    return headers, requests


def fill_window(body: bytes | None, slot: int, epoch: int) -> bytes | None:
    """requests.lua's @START@/@END@: a one-minute booking window of its own per request."""
    if not body or b"@START@" not in body:
        return body
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))  # noqa: E731
    start = epoch + slot * 60
    return body.replace(b"@START@", iso(start).encode()).replace(b"@END@",
                                                                 iso(start + 60).encode())


def fill_headers(headers: dict, slot: int) -> dict:
    """requests.lua's @SLOT@ in a header value: a value of its own per request (e.g. a
    fresh Idempotency-Key)."""
    return {name: value.replace("@SLOT@", str(slot)) for name, value in headers.items()}


def run(host: str, port: int, path: str, duration: float, connections: int,
        first_slot: int = 0, window_epoch: int = 0) -> dict:
    headers, requests = read_requests(path)
    slots = itertools.count(first_slot)
    latencies: list[float] = []
    counts = {"non2xx": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker(offset: int) -> None:
        mine, bad, failed = [], 0, 0
        conn = http.client.HTTPConnection(host, port, timeout=30)
        i = offset
        while time.perf_counter() < deadline:
            method, target, body = requests[i % len(requests)]
            slot = next(slots)
            body = fill_window(body, slot, window_epoch)
            i += 1
            started = time.perf_counter()
            try:
                conn.request(method, target, body=body, headers=fill_headers(headers, slot))
                response = conn.getresponse()
                response.read()
                if not 200 <= response.status < 400:
                    bad += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)
            counts["non2xx"] += bad
            counts["errors"] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(random.randrange(len(requests)),))
               for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": percentile(0.50), "p99_ms": percentile(0.99), **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--first-slot", type=int, default=0)
    parser.add_argument("--window-epoch", type=int, default=0)
    parser.add_argument("requests")
    args = parser.parse_args()
    print(json.dumps(run(args.host, args.port, args.requests, args.duration, args.connections,
                         args.first_slot, args.window_epoch)))


if __name__ == "__main__":
    main()
