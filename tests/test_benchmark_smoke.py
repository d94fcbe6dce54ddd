"""The benchmark's smoke mode, so the benchmark cannot rot. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import OWN_SQLITE_FILE, ROOT, TEST_DATABASE_URL

BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import run as bench  # noqa: E402

# The benchmark builds its own SQLite data set.
pytestmark = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason=OWN_SQLITE_FILE)


def test_smoke_run_answers_every_operation(tmp_path):
    process = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--smoke",
                              "--output", str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    (result,) = report["results"]
    assert result["l0"]["rps"] > 0
    assert set(result["operations"]) == {op.name for op in bench.OPERATIONS} | {
        "deliver_webhooks"}
    delivery = result["operations"].pop("deliver_webhooks")
    assert delivery["rps"] > 0, delivery  # the webhooks queued by the bookings went out
    for name, figures in result["operations"].items():
        if "skipped" in figures:
            assert name in ("create_booking", "create_booking_webhooks", "list_bookings"), figures
            continue
        assert 200 <= figures["first_status"] < 300, (name, figures)
        assert figures["failed"] == 0, (name, figures)
    attacked = result["under_attack"]
    for condition in ("quiet", "idle_connections", "failed_logins"):
        assert attacked[condition]["requests"] > 0 and attacked[condition]["failed"] == 0
    assert attacked["failed_logins"]["attack_statuses"]  # the attackers were answered
    assert (tmp_path / "latest.md").read_text().startswith("# Benchmark results")


def test_python_fallback_generator_drives_l0(tmp_path):
    """The load generator used where wrk is not installed."""
    from loadgen import run as python_loadgen

    server = bench.Server("L0", "l0:app", BENCHMARKS, {}, tmp_path / "l0.log")
    try:
        server.wait_ready("/")
        requests = tmp_path / "requests.tsv"
        bench.write_requests(requests, {"X-Test": "1"}, [("GET", "/", ""), ("POST", "/", "{}")])
        figures = python_loadgen("127.0.0.1", server.port, str(requests), 0.3, 2)
    finally:
        server.stop()
    assert figures["requests"] > 0 and figures["non2xx"] == 0 and figures["errors"] == 0
    assert figures["p50_ms"] is not None


def test_wrk_output_is_parsed():
    text = """Running 1s test @ http://127.0.0.1:1
  Latency Distribution
     50%  620.00us
     75%    1.10ms
     99%    1.20s
  1234 requests in 1.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:   1234.50
"""
    assert bench.parse_wrk(text) == {"requests": 1234, "rps": 1234.5, "p50_ms": 0.62,
                                     "p99_ms": 1200.0, "non2xx": 5, "errors": 3}
