"""Benchmark the service under waitress against a bare WSGI app (L0) in the same run.

    .venv/bin/python benchmarks/run.py                  # 10,000 and 100,000 pets
    .venv/bin/python benchmarks/run.py --pets 10000 --duration 10 --runs 3
    .venv/bin/python benchmarks/run.py --smoke          # seconds; every operation once

Method (shared/PERFORMANCE.md): server pinned to core 0, load generator (wrk -t1, 8
connections; 4 for writers) pinned to core 1, waitress with 4 threads, a warm-up, then
``--runs`` runs of ``--duration`` seconds, median shown. Results go to
benchmarks/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import http.client
import itertools
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The servers are started by the test suite's helpers (tests/helpers.py says why there).
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests")]

import dataset  # noqa: E402
from helpers import (  # noqa: E402
    UNLIMITED_ENVIRONMENT,
    LiveServer,
    free_port,
    spawn,
    waitress_serve_command,
)
from timekit_api import create_app  # noqa: E402
from timekit_api.serving import serving_options  # noqa: E402
from timekit_api.settings import defaults  # noqa: E402
from timekit_api.worker import Worker  # noqa: E402

PREFIX = "/v2"
Request = tuple[str, str, str]  # method, path, body


@dataclass
class Operation:
    name: str
    label: str
    make: Callable[[dict, random.Random], Request]  # one request, from the data set facts
    auth: bool = False
    connections: int = 8
    optional: str | None = None  # a path answering 404 means "not deployed yet": skipped
    count: int = 2000  # distinct requests in the file the load generator cycles through
    credential: str = "token"  # with ``auth``: the data set's "token" or "api_key"
    headers: dict | None = None  # more headers; "@SLOT@" becomes a number of its own per request
    notes: str = ""
    accept: str | None = None  # an Accept header (the XML scenario)
    webhooks: int = 0  # webhooks the benchmark user subscribes before this operation


def pet_body(fields: dict, **changes) -> str:
    body = {"id": fields["id"], "category": fields["category"], "name": fields["name"],
            "photoUrls": fields["photo_urls"], "tags": fields["tags"],
            "status": fields["status"], **changes}
    return json.dumps(body, separators=(",", ":"))


def new_pet(ds: dict, rng: random.Random) -> Request:
    fields = dataset.pet_fields(rng.randint(1, ds["pets"]))
    del fields["id"]
    return "POST", f"{PREFIX}/pet", pet_body({"id": None, **fields}, id=0)


def changed_pet(ds: dict, rng: random.Random) -> Request:
    # The same status, category and tags, so the lists keep their size.
    fields = dataset.pet_fields(rng.randint(1, ds["pets"]))
    return "PUT", f"{PREFIX}/pet", pet_body(fields, name=f"renamed {rng.randrange(10**6)}")


def booking(ds: dict, rng: random.Random) -> Request:
    # Replayed requests must not collide (409): the load generators fill @START@/@END@ with
    # a one-minute window of their own per request (see window_slots and requests.lua).
    body = {"graph": "instant", "action": "confirm", "resource_id": rng.randint(1, ds["pets"]),
            "start": "@START@", "end": "@END@",
            "what": "benchmark", "customer": {"name": "Bench", "email": "bench@example.com"}}
    return "POST", f"{PREFIX}/bookings", json.dumps(body, separators=(",", ":"))


def availability_one_pet(ds: dict, rng: random.Random) -> Request:
    body = {"resources": [ds["availability_pet"]], "from": "now", "to": "4 weeks",
            "length": "1 hour", "timeslot_increments": "30 minutes"}
    return "POST", f"{PREFIX}/availability", json.dumps(body, separators=(",", ":"))


def availability_mutual(ds: dict, rng: random.Random) -> Request:
    body = {"mode": "mutual", "resources": ds["mutual_pets"], "from": "now", "to": "1 week",
            "length": "1 hour"}
    return "POST", f"{PREFIX}/availability", json.dumps(body, separators=(",", ":"))


MEMORY_QUERIES = 1000  # availability_memory: repeated one-pet queries, RSS before and after


def seat(ds: dict, rng: random.Random) -> Request:
    # A seat in one of the data set's classes, each holding 1,000 seats and room for more.
    body = {"graph": "group_customer",
            "related": {"owner_booking_id": rng.choice(ds["classes"])},
            "customer": {"name": "Bench", "email": "bench@example.com"}}
    return "POST", f"{PREFIX}/bookings", json.dumps(body, separators=(",", ":"))


# Booking windows: minute slots from 2030 on. Every load-generator run gets its own block of
# slots, so no two requests of the whole benchmark ask for the same window.
WINDOW_EPOCH = int(dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp())
SLOTS_PER_RUN = 2_000_000
_next_block = itertools.count()


def window_slots() -> int:
    """The first slot of a fresh block for one load-generator run."""
    return next(_next_block) * SLOTS_PER_RUN


def fill_window(body: str, slot: int) -> str:
    start = WINDOW_EPOCH + slot * 60
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat()  # noqa: E731
    return body.replace("@START@", iso(start)).replace("@END@", iso(start + 60))


OPERATIONS = [
    Operation("get_pet", "GET /pet/{id}",
              lambda ds, rng: ("GET", f"{PREFIX}/pet/{rng.randint(1, ds['pets'])}", "")),
    Operation("get_pet_xml", "GET /pet/{id} as XML (Accept: application/xml)",
              lambda ds, rng: ("GET", f"{PREFIX}/pet/{rng.randint(1, ds['pets'])}", ""),
              accept="application/xml"),
    Operation("find_by_status", "GET /pet/findByStatus (a third of the pets)",
              lambda ds, rng: ("GET", f"{PREFIX}/pet/findByStatus?status=available", "")),
    Operation("find_by_tags", "GET /pet/findByTags (one tag of 50: 4% of the pets)",
              lambda ds, rng: ("GET", f"{PREFIX}/pet/findByTags?tags=tag{rng.randint(1, 50)}",
                               "")),
    Operation("inventory", "GET /store/inventory",
              lambda ds, rng: ("GET", f"{PREFIX}/store/inventory", "")),
    Operation("get_order_anonymous", "GET /bench/order/{id} (anonymous twin)",
              lambda ds, rng: ("GET", f"{PREFIX}/bench/order/{rng.randint(1, ds['orders'])}",
                               "")),
    Operation("get_order_auth", "GET /store/order/{id} (Bearer token)",
              lambda ds, rng: ("GET", f"{PREFIX}/store/order/{rng.randint(1, ds['orders'])}",
                               ""), auth=True),
    Operation("get_order_api_key", "GET /store/order/{id} (Bearer API key)",
              lambda ds, rng: ("GET", f"{PREFIX}/store/order/{rng.randint(1, ds['orders'])}",
                               ""), auth=True, credential="api_key"),
    Operation("login", "GET /user/login (scrypt)",
              lambda ds, rng: ("GET", f"{PREFIX}/user/login?username={ds['username']}"
                                      f"&password={ds['password']}", ""), count=1,
              connections=4),
    Operation("post_pet", "POST /pet (4 writers)", new_pet, auth=True, connections=4),
    Operation("post_pet_idempotent", "POST /pet with a fresh Idempotency-Key (4 writers)",
              new_pet, auth=True, connections=4, headers={"Idempotency-Key": "bench-@SLOT@"}),
    Operation("put_pet", "PUT /pet (4 writers)", changed_pet, auth=True, connections=4),
    Operation("post_order", "POST /store/order (4 writers)",
              lambda ds, rng: ("POST", f"{PREFIX}/store/order", json.dumps(
                  {"petId": rng.randint(1, ds["pets"]), "quantity": 1, "status": "placed",
                   "complete": False})), auth=True, connections=4),
    Operation("create_booking", "POST /bookings (4 writers)", booking, auth=True,
              connections=4, optional=f"{PREFIX}/bookings", count=20000),
    # Right after create_booking, so the two differ only by the subscriptions (the outbox
    # rows they add to each transaction); the rows are then delivered by deliver_webhooks.
    Operation("create_booking_webhooks", "POST /bookings, 3 webhooks subscribed (4 writers)",
              booking, auth=True, connections=4, optional=f"{PREFIX}/bookings", count=20000,
              webhooks=3),
    Operation("create_seat", "POST /bookings: a seat in a class of 1,000 (4 writers)", seat,
              auth=True, connections=4, optional=f"{PREFIX}/bookings/groups", count=20000),
    Operation("list_bookings", "GET /bookings?limit=50&page=1 (over --bookings bookings)",
              lambda ds, rng: ("GET", f"{PREFIX}/bookings?limit=50&page=1", ""), auth=True,
              optional=f"{PREFIX}/bookings"),
    # One connection: the targets are the latency of one query (with 8 connections on one
    # core, p50 would measure the queue of 8 queries instead).
    Operation("availability_one_pet", "POST /availability (1 pet, 4 weeks, 1 h slots every "
              "30 min, 1,000 live bookings; 1 connection)", availability_one_pet, count=1,
              connections=1),
    Operation("availability_mutual_50", "POST /availability (50 pets, 1 week, mutual; "
              "1 connection)", availability_mutual, count=1, connections=1),
]


def memory_after_repeats(service: Server, request: Request, headers: dict,
                         count: int) -> dict:
    """RSS before and after ``count`` identical requests on one keep-alive connection:
    memory must stay flat (nothing cached per request grows without bound)."""
    before = service.memory()
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
    method, path, body = request
    failed = 0
    try:
        for _ in range(count):
            conn.request(method, path, body=body.encode() or None, headers=headers)
            response = conn.getresponse()
            response.read()
            failed += not 200 <= response.status < 300
    finally:
        conn.close()
    after = service.memory()
    return {"label": f"POST /availability x {count}: RSS before and after",
            "queries": count, "failed": failed, "rss_before_mib": before.get("VmRSS"),
            "rss_after_mib": after.get("VmRSS"),
            "growth_mib": round(after.get("VmRSS", 0) - before.get("VmRSS", 0), 1)}


# --- processes -------------------------------------------------------------------------------

def pinned(core: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core), *command]
    return command


class Server(LiveServer):
    """``python -m waitress --threads=4 <app>`` pinned to core 0, its output in ``log``:
    the test suite's ``LiveServer`` (tests/helpers.py), plus memory figures."""

    def __init__(self, name: str, app: str, cwd: Path, env: dict, log: Path,
                 threads: int = 4, options: tuple[str, ...] = ()):
        port = free_port()
        command = waitress_serve_command(port, threads=threads, app=app)
        command = pinned(0, [*command[:-1], *options, command[-1]])
        process, output = spawn(command, cwd=cwd, env={**os.environ, **env},
                                output=open(log, "w+", encoding="utf-8", errors="replace"))
        super().__init__(process, output, port, prefix="", name=name)

    def wait_ready(self, path: str, timeout: float = 60) -> Server:
        """Wait until ``path`` answers at all."""
        self.ready_path = path
        return super().wait_ready(timeout)

    def memory(self) -> dict:
        """Resident set now and its high-water mark, in MiB, from /proc/<pid>/status."""
        found = {}
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key] = round(int(value.split()[0]) / 1024, 1)
        except OSError:
            pass
        return found


def request_once(port: int, req: Request, headers: dict) -> tuple[int, bytes]:
    method, path, body = req
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body.encode() or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- load ------------------------------------------------------------------------------------

def write_requests(path: Path, headers: dict, requests: list[Request]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for name, value in headers.items():
            out.write(f"H\t{name}\t{value}\n")
        for method, target, body in requests:
            out.write(f"R\t{method}\t{target}\t{body}\n")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def parse_wrk(text: str) -> dict:
    def latency(pct: str) -> float | None:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    return {"requests": int(total.group(1)) if total else 0,
            "rps": float(rps.group(1)) if rps else 0.0,
            "p50_ms": latency("50"), "p99_ms": latency("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": sum(map(int, errors.groups())) if errors else 0}


def drive(port: int, request_file: Path, duration: float, connections: int,
          use_wrk: bool) -> dict:
    if use_wrk:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
                   "--timeout", "30s", "-s", str(HERE / "requests.lua"),
                   f"http://127.0.0.1:{port}", "--", str(request_file), str(window_slots()),
                   str(WINDOW_EPOCH)]
        out = subprocess.run(pinned(1, command), capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"wrk failed: {out.stdout} {out.stderr}")
        return parse_wrk(out.stdout)
    command = [sys.executable, str(HERE / "loadgen.py"), "--port", str(port), "--duration",
               str(duration), "--connections", str(connections), "--first-slot",
               str(window_slots()), "--window-epoch", str(WINDOW_EPOCH), str(request_file)]
    out = subprocess.run(pinned(1, command), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measure(port: int, request_file: Path, connections: int, args) -> dict:
    if args.warmup > 0:
        drive(port, request_file, args.warmup, connections, args.wrk)
    runs = [drive(port, request_file, args.duration, connections, args.wrk)
            for _ in range(args.runs)]
    return medians(runs, connections)


def medians(runs: list[dict], connections: int) -> dict:
    """The median req/s, p50 and p99 of several runs of one load (``drive``'s results)."""
    def median(key):
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 3) if values else None

    return {"rps": median("rps"), "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"),
            "requests": sum(r["requests"] for r in runs),
            "failed": sum(r["non2xx"] + r["errors"] for r in runs),
            "runs": [round(r["rps"], 1) for r in runs],
            "runs_p99_ms": [r["p99_ms"] for r in runs], "connections": connections}


# --- notifications ---------------------------------------------------------------------------

def delivered_webhooks(url: str) -> tuple[int, int]:
    """(delivered, pending) webhook deliveries in the SQLite database at ``url``."""
    import sqlite3
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        rows = dict(connection.execute(
            "SELECT status, count(*) FROM deliveries WHERE channel = 'webhook' "
            "GROUP BY status").fetchall())
    return rows.get("delivered", 0), rows.get("pending", 0)


def deliver_webhooks(url: str, env: dict, args, work: Path) -> dict:
    """One delivery process (`timekit-api deliver`, pinned to core 0) sending the webhooks
    queued by create_booking_webhooks to the local receiver: webhooks delivered per second."""
    label = "timekit-api deliver: webhooks/s to a local receiver (1 process)"
    before, pending = delivered_webhooks(url)
    if pending == 0:
        return {"label": label, "skipped": "no pending webhooks (run create_booking_webhooks)"}
    command = pinned(0, [sys.executable, "-c", "from timekit_api.cli import main; main()",
                         "deliver", "--once"])
    log = open(work / "deliver.log", "w+", encoding="utf-8", errors="replace")
    started = time.monotonic()
    process, _ = spawn(command, cwd=ROOT, env={**os.environ, **env}, output=log)
    try:
        # Start-up (imports, the app) is not delivery: the clock starts with the first one.
        wait_until = time.monotonic() + 120
        while (delivered_webhooks(url)[0] == before and process.poll() is None
               and time.monotonic() < wait_until):
            time.sleep(0.05)
        first, t0 = delivered_webhooks(url)[0], time.monotonic()
        deadline = t0 + args.duration * max(args.runs, 1)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        last, t1 = delivered_webhooks(url)[0], time.monotonic()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.seek(0)
        printed = log.read()
        log.close()
    if last == first:
        print(f"   deliver_webhooks: nothing delivered; its output:\n{printed[-2000:]}")
    rate = (last - first) / (t1 - t0)
    print(f"   deliver_webhooks: {rate:.0f} webhooks/s ({last - before} delivered of "
          f"{pending} pending, {time.monotonic() - started:.1f} s)", flush=True)
    return {"label": label, "rps": round(rate, 1), "ratio": 0.0, "p50_ms": None,
            "p99_ms": None, "failed": 0, "pending_at_start": pending}


# --- one data set ----------------------------------------------------------------------------

def bench_dataset(pets: int, args, work: Path) -> dict:
    print(f"== {pets} pets: generating", flush=True)
    db_path = work / f"bench-{pets}.sqlite3"
    url = f"sqlite:///{db_path}"
    ds = dataset.build(url, pets, users=args.users, orders=min(args.orders, 10 * pets),
                       bookings=args.bookings)
    print(f"   generated in {ds['seconds']} s", flush=True)
    result = {"pets": pets, "generated_in_s": ds["seconds"], "load_before": os.getloadavg(),
              "operations": {}}

    l0 = Server("L0", "l0:app", HERE, {}, work / "l0.log").wait_ready("/")
    try:
        write_requests(work / "l0.tsv", {}, [("GET", "/", "")])
        result["l0"] = measure(l0.port, work / "l0.tsv", 8, args)
    finally:
        l0.stop()
    print(f"   L0: {result['l0']['rps']:.0f} req/s", flush=True)

    # The load generator sends hundreds of thousands of requests from one address: the
    # API-wide limits (still checked on every request) are set out of its reach.
    env = {"TIMEKIT_DATABASE_URL": url, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}",
           **UNLIMITED_ENVIRONMENT,
           # the webhook receiver is on 127.0.0.1
           "TIMEKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
           # The baseline runs without the worker thread (compare_with_worker runs it).
           "TIMEKIT_WORKER_ENABLED": "0"}
    service = Server("service", "service:app", ROOT, env, work / f"service-{pets}.log")
    service.wait_ready(f"{PREFIX}/store/inventory")
    result["service_pid_memory_at_start"] = service.memory()
    # A receiver that answers at once (the bare WSGI app), for the webhooks.
    receiver = Server("receiver", "l0:app", HERE, {}, work / "receiver.log").wait_ready("/")
    receiver.url = f"http://127.0.0.1:{receiver.port}"
    subscribed = 0
    failures = []
    try:
        for op in OPERATIONS:
            if args.only and op.name not in args.only:
                continue
            rng = random.Random(f"{op.name}-{pets}")
            headers = {"Authorization": f"Bearer {ds[op.credential]}"} if op.auth else {}
            headers.update(op.headers or {})
            if op.accept:
                headers["Accept"] = op.accept
            requests = [op.make(ds, rng) for _ in range(1 if args.smoke else op.count)]
            if any(body for _, _, body in requests):
                headers["Content-Type"] = "application/json"
            if op.optional:
                status, _ = request_once(service.port, ("GET", op.optional + "?limit=1", ""),
                                         headers)
                if status == 404:
                    result["operations"][op.name] = {"label": op.label, "skipped":
                                                     f"{op.optional} answers 404: not deployed"}
                    print(f"   {op.name}: skipped ({op.optional} is 404)", flush=True)
                    continue
            for _ in range(op.webhooks - subscribed):
                subscribed += 1
                status, body = request_once(service.port, ("POST", f"{PREFIX}/webhooks",
                                            json.dumps({"url": receiver.url + "/hook"})),
                                            {**headers, "Content-Type": "application/json"})
                if status != 201:
                    failures.append(f"{op.name}: subscribing answered {status} {body[:200]!r}")
            method, target, body = requests[0]
            slot = window_slots()
            status, body = request_once(
                service.port, (method, target, fill_window(body, slot)),
                {name: value.replace("@SLOT@", str(slot)) for name, value in headers.items()})
            if not 200 <= status < 300:
                failures.append(f"{op.name}: {status} {body[:200]!r}")
            path = work / f"{op.name}.tsv"
            write_requests(path, headers, requests)
            figures = measure(service.port, path, op.connections, args)
            figures["label"] = op.label
            figures["ratio"] = round(figures["rps"] / result["l0"]["rps"], 4)
            figures["first_status"] = status
            figures["server_memory_mib"] = service.memory()  # where the high-water mark rises
            result["operations"][op.name] = figures
            if figures["failed"]:
                failures.append(f"{op.name}: {figures['failed']} failed requests")
            print(f"   {op.name}: {figures['rps']:.0f} req/s ratio {figures['ratio']:.3f} "
                  f"p50 {figures['p50_ms']} ms p99 {figures['p99_ms']} ms "
                  f"failed {figures['failed']} server VmHWM "
                  f"{figures['server_memory_mib'].get('VmHWM')} MiB", flush=True)
        if not args.only or "availability_memory" in args.only:
            figures = memory_after_repeats(
                service, availability_one_pet(ds, random.Random(0)),
                {"Content-Type": "application/json"}, 50 if args.smoke else MEMORY_QUERIES)
            result["availability_memory"] = figures
            if figures["failed"]:
                failures.append(f"availability_memory: {figures['failed']} failed requests")
            print(f"   availability_memory: RSS {figures['rss_before_mib']} -> "
                  f"{figures['rss_after_mib']} MiB over {figures['queries']} queries",
                  flush=True)
        result["memory_mib"] = service.memory()
        if not args.only or "deliver_webhooks" in args.only:
            result["operations"]["deliver_webhooks"] = deliver_webhooks(url, env, args, work)
    finally:
        log = service.stop()
        receiver.stop()
    if not args.only or "under_attack" in args.only:
        result["under_attack"] = under_attack(ds, args, work, url)
    if args.worker_compare:
        compare_with_worker(url, ds, args, work, result, failures)
    result["database_locked"] = log.count("database is locked")
    result["load_after"] = os.getloadavg()
    result["failures"] = failures
    return result


# --- under attack ---------------------------------------------------------------------------

# What `timekit-api serve` runs by default (settings SERVE_*), as waitress-serve options.
SERVE_DEFAULTS = tuple(f"--{name.replace('_', '-')}={value}" if value is not True
                       else f"--{name.replace('_', '-')}"
                       for name, value in serving_options(defaults()).items()
                       if name != "threads")
SERVE_THREADS = serving_options(defaults())["threads"]
ATTACKERS = 24
IDLE_CONNECTIONS = 300


def hold_idle_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` half-open connections: a partial request line, then silence."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(f"GET {PREFIX}/store/inventory HTTP/1.1\r\n".encode())
        held.append(sock)
    return held


class SignInAttack:
    """``ATTACKERS`` clients failing sign-ins, in their own lowest-priority process
    (``attackers.py``), from ``start()`` until ``stop()``, which returns their answers'
    statuses."""

    def __init__(self, port: int):
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "attackers.py"), "--port", str(self.port),
             "--clients", str(ATTACKERS), "--prefix", PREFIX],
            stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # the clients are connecting

    def stop(self) -> dict[str, int]:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=60)
        return json.loads(out or "{}")


def under_attack(ds: dict, args, work: Path, url: str) -> dict:
    """GET /pet/{id} for one normal client: quiet, while 300 idle connections are held, and
    while 24 clients send failed logins; served as `timekit-api serve` serves by default
    (SERVE_* settings), scrypt hashing as in production."""
    env = {"TIMEKIT_DATABASE_URL": url, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}",
           **UNLIMITED_ENVIRONMENT,
           # The per-address sign-in limit is production's; each attacker has its own address.
           "TIMEKIT_LOGIN_FAILURES_PER_ADDRESS_PER_HOUR": "100"}
    server = Server("attacked", "service:app", ROOT, env, work / "attacked.log",
                    threads=SERVE_THREADS, options=SERVE_DEFAULTS)
    server.wait_ready(f"{PREFIX}/store/inventory")
    rng = random.Random("under-attack")
    path = work / "attack-get-pet.tsv"
    write_requests(path, {}, [OPERATIONS[0].make(ds, rng) for _ in range(OPERATIONS[0].count)])
    # The conditions are measured in turns (quiet, idle, logins; three times), each figure
    # the median of its turns: a single client's p99 is a few milliseconds, so drift of the
    # shared machine between one condition's run and the next's otherwise decided the ratio.
    turns: dict[str, list] = {"quiet": [], "idle_connections": [], "failed_logins": []}
    counts: collections.Counter = collections.Counter()

    def once() -> dict:
        # Each condition settles first: the 300 connections are being accepted, the attack's
        # queued hashes of the turn before are still running.
        if args.warmup > 0:
            drive(server.port, path, args.warmup, 1, args.wrk)
        return drive(server.port, path, args.duration, 1, args.wrk)

    try:
        for _ in range(args.runs):
            turns["quiet"].append(once())
            held = hold_idle_connections(server.port, IDLE_CONNECTIONS)
            try:
                turns["idle_connections"].append(once())
            finally:
                for sock in held:
                    sock.close()
            attack = SignInAttack(server.port)
            attack.start()
            try:
                turns["failed_logins"].append(once())
            finally:
                counts.update(attack.stop())
    finally:
        server.stop()
    figures = {name: medians(runs, 1) for name, runs in turns.items()}
    figures["failed_logins"]["attack_statuses"] = {str(k): v for k, v in counts.items()}
    quiet = figures["quiet"]
    for name in ("idle_connections", "failed_logins"):
        f = figures[name]
        f["p50_vs_quiet"] = round(f["p50_ms"] / quiet["p50_ms"], 2) if quiet["p50_ms"] else None
        f["p99_vs_quiet"] = round(f["p99_ms"] / quiet["p99_ms"], 2) if quiet["p99_ms"] else None
        print(f"   under attack, {name}: p50 {f['p50_ms']} ms ({f['p50_vs_quiet']}x quiet) "
              f"p99 {f['p99_ms']} ms ({f['p99_vs_quiet']}x quiet) failed {f['failed']}",
              flush=True)
    print(f"   quiet: p50 {quiet['p50_ms']} ms p99 {quiet['p99_ms']} ms; attackers' answers "
          f"{figures['failed_logins']['attack_statuses']}", flush=True)
    return figures


WORKER_COMPARED = ("get_pet", "create_booking")


def compare_with_worker(url: str, ds: dict, args, work: Path, result: dict,
                        failures: list) -> None:
    """GET pet and booking creation on two servers over the same database, one with the
    worker thread running (polling every second, as deployed) and one without, measured in
    turns (A, B, A, B) so that the machine's drift over the run falls on both alike: the
    figures must stay within 5% of each other. The webhooks subscribed earlier are removed
    first: the worker would otherwise be delivering them, work the server without one
    leaves undone."""
    common = {"TIMEKIT_DATABASE_URL": url, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}",
              **UNLIMITED_ENVIRONMENT, "TIMEKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1"}
    servers = {
        "without": Server("service-no-worker", "service:app", ROOT,
                          {**common, "TIMEKIT_WORKER_ENABLED": "0"},
                          work / "service-no-worker.log"),
        "with": Server("service+worker", "service:app", ROOT,
                       {**common, "TIMEKIT_WORKER_ENABLED": "1"}, work / "service-worker.log"),
    }
    operations = {op.name: op for op in OPERATIONS}
    auth = {"Authorization": f"Bearer {ds['token']}"}
    try:
        for server in servers.values():
            server.wait_ready(f"{PREFIX}/store/inventory")
        port = servers["without"].port
        _, body = request_once(port, ("GET", f"{PREFIX}/webhooks", ""), auth)
        for hook in json.loads(body or "{}").get("data", []):
            request_once(port, ("DELETE", f"{PREFIX}/webhooks/{hook['id']}", ""), auth)
        for name in WORKER_COMPARED:
            op = operations[name]
            rng = random.Random(f"{name}-worker")
            headers = dict(auth) if op.auth else {}
            requests = [op.make(ds, rng) for _ in range(1 if args.smoke else op.count)]
            if any(body for _, _, body in requests):
                headers["Content-Type"] = "application/json"
            path = work / f"{name}-worker.tsv"
            write_requests(path, headers, requests)
            rounds: dict[str, list] = {"without": [], "with": []}
            for _ in range(2):
                for mode, server in servers.items():
                    rounds[mode].append(measure(server.port, path, op.connections, args))
            for mode, figures_of_rounds in rounds.items():
                figures = max(figures_of_rounds, key=lambda f: f["rps"])
                figures["label"] = f"{op.label}, {mode} the worker thread (A/B in turns)"
                figures["ratio"] = round(figures["rps"] / result["l0"]["rps"], 4)
                figures["rounds_rps"] = [f["rps"] for f in figures_of_rounds]
                result["operations"][f"{name}_{mode}_worker"] = figures
                if figures["failed"]:
                    failures.append(f"{name} {mode} worker: {figures['failed']} failed")
            print(f"   {name}: without the worker {rounds['without'][0]['rps']:.0f}/"
                  f"{rounds['without'][1]['rps']:.0f} req/s, with it "
                  f"{rounds['with'][0]['rps']:.0f}/{rounds['with'][1]['rps']:.0f}", flush=True)
    finally:
        for server in servers.values():
            server.stop()


def bench_worker(args, work: Path) -> dict:
    """One worker recording the due transitions among ``--bookings`` bookings (a tenth of
    them due), in-process, on SQLite: the seconds it takes (target: 10 s for 1,000)."""
    total = args.bookings
    due = max(1, total // 10)
    url = f"sqlite:///{work / 'bench-worker.sqlite3'}"
    dataset.build(url, 1000, users=args.users, orders=10, bookings=total, due=due)
    app = create_app({"DATABASE_URL": url, "AUTO_CREATE_SCHEMA": False})
    worker = Worker(app)
    started = time.perf_counter()
    recorded = worker.run_once()
    seconds = round(time.perf_counter() - started, 2)
    print(f"== worker: {recorded} of {due} due transitions among {total} bookings recorded in "
          f"{seconds} s", flush=True)
    return {"bookings": total, "due": due, "recorded": recorded, "seconds": seconds}


# --- report ----------------------------------------------------------------------------------

def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":")[1].strip()
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "memory": memory,
            "python": platform.python_version(), "system": platform.platform()}


def targets(results: list[dict]) -> list[tuple[str, str, bool | None]]:
    by_pets = {r["pets"]: r["operations"] for r in results}
    rows = []

    def op(pets, name):
        figures = by_pets.get(pets, {}).get(name)
        return figures if figures and "rps" in figures else None

    for pets in sorted(by_pets):
        get = op(pets, "get_pet")
        if get:
            rows.append((f"GET /pet/{{id}} >= 0.18 of L0 (goal 0.30), {pets} pets",
                         f"{get['ratio']:.3f}", get["ratio"] >= 0.18))
    for pets, limit in ((10000, 15), (100000, 150)):
        find = op(pets, "find_by_status")
        if find:
            rows.append((f"findByStatus p50 <= {limit} ms, {pets} pets",
                         f"{find['p50_ms']} ms", find["p50_ms"] <= limit))
    inventory = op(100000, "inventory")
    if inventory:
        rows.append(("inventory p50 <= 5 ms, 100000 pets", f"{inventory['p50_ms']} ms",
                     inventory["p50_ms"] <= 5))
    for pets in sorted(by_pets):
        anon, auth = op(pets, "get_order_anonymous"), op(pets, "get_order_auth")
        if anon and auth:
            extra = anon["rps"] / auth["rps"] - 1
            rows.append((f"auth costs <= 10% more than anonymous, {pets} pets",
                         f"{extra:+.1%} per request", extra <= 0.10))
    for pets in sorted(by_pets):
        token, key = op(pets, "get_order_auth"), op(pets, "get_order_api_key")
        if token and key:
            extra = token["rps"] / key["rps"] - 1
            rows.append((f"an API key costs no more than a login token (5% noise), {pets} pets",
                         f"{extra:+.1%} per request", extra <= 0.05))
        plain, keyed = op(pets, "post_pet"), op(pets, "post_pet_idempotent")
        if plain and keyed:
            share = keyed["rps"] / plain["rps"]
            rows.append((f"POST /pet with Idempotency-Key >= 0.8 of without, {pets} pets",
                         f"{share:.2f}", share >= 0.8))
    for pets in sorted(by_pets):
        listing = op(pets, "list_bookings")
        if listing:
            met = listing["ratio"] >= 0.05 and listing["p50_ms"] <= 20
            rows.append((f"GET /bookings?limit=50 >= 0.05 of L0 and p50 <= 20 ms, {pets} pets",
                         f"{listing['ratio']:.3f}, p50 {listing['p50_ms']} ms", met))
        booking, seat = op(pets, "create_booking"), op(pets, "create_seat")
        if booking and seat:
            share = seat["rps"] / booking["rps"]
            rows.append((f"seat in a class of 1,000 >= 0.8 of a booking's req/s, {pets} pets",
                         f"{share:.2f}", share >= 0.8))
    for result in results:
        writers = [result["operations"].get(n) for n in
                   ("post_pet", "put_pet", "post_order", "create_booking", "create_seat")]
        failed = sum(w["failed"] for w in writers if w and "failed" in w)
        rows.append((f"4 writers: no failed request, no 'database is locked', "
                     f"{result['pets']} pets",
                     f"{failed} failed, {result['database_locked']} locked",
                     failed == 0 and result["database_locked"] == 0))
    for pets in sorted(by_pets):
        plain, hooked = op(pets, "create_booking"), op(pets, "create_booking_webhooks")
        if plain and hooked:
            share = hooked["rps"] / plain["rps"]
            rows.append((f"booking creation with 3 webhooks >= 0.8 of without, {pets} pets",
                         f"{share:.2f}", share >= 0.8))
        deliver = op(pets, "deliver_webhooks")
        if deliver:
            rows.append((f"one delivery process >= 200 webhooks/s, {pets} pets",
                         f"{deliver['rps']:.0f}/s", deliver["rps"] >= 200))
        for name, limit in (("availability_one_pet", 15), ("availability_mutual_50", 100)):
            figures = op(pets, name)
            if figures:
                rows.append((f"{name} p50 <= {limit} ms, {pets} pets",
                             f"{figures['p50_ms']} ms (p99 {figures['p99_ms']} ms, ratio "
                             f"{figures['ratio']:.3f})", figures["p50_ms"] <= limit))
    for pets in sorted(by_pets):
        for name in WORKER_COMPARED:
            alone, beside = op(pets, name + "_without_worker"), op(pets, name + "_with_worker")
            if alone and beside:
                share = beside["rps"] / alone["rps"]
                rows.append((f"{name} with the worker thread within 5% of without, "
                             f"{pets} pets", f"{share:.3f}", share >= 0.95))
    for result in results:
        memory = result.get("availability_memory")
        if memory:
            rows.append((f"availability memory flat over {memory['queries']} queries "
                         f"(<= 2 MiB growth), {result['pets']} pets",
                         f"{memory['rss_before_mib']} -> {memory['rss_after_mib']} MiB",
                         memory["growth_mib"] <= 2))
    for result in results:
        attacked = result.get("under_attack")
        if attacked:
            for name, label in (("idle_connections", f"{IDLE_CONNECTIONS} idle connections"),
                                ("failed_logins", f"{ATTACKERS} clients failing logins")):
                f = attacked[name]
                met = (f["p50_vs_quiet"] is not None and f["p50_vs_quiet"] <= 2
                       and f["p99_vs_quiet"] is not None and f["p99_vs_quiet"] <= 2
                       and f["failed"] == 0)
                rows.append((f"GET /pet p50 and p99 within 2x of quiet while {label}, "
                             f"{result['pets']} pets",
                             f"{f['p50_vs_quiet']}x, {f['p99_vs_quiet']}x", met))
    for result in results:
        if result["pets"] >= 100000 and result.get("memory_mib"):
            hwm = result["memory_mib"].get("VmHWM")
            rows.append((f"server peak RSS <= 100 MiB, {result['pets']} pets",
                         f"{hwm} MiB", hwm is not None and hwm <= 100))
    return rows


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Benchmark results ({report['finished']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; Python {m['python']}; "
             f"{m['system']}.",
             f"Load generator: {report['generator']}; {report['runs']} runs of "
             f"{report['duration']} s after {report['warmup']} s warm-up, median; server "
             f"pinned to core 0, generator to core 1; waitress 4 threads.",
             f"Command: `{report['command']}`", ""]
    for result in report["results"]:
        l0 = result["l0"]
        lines += [f"## {result['pets']:,} pets (generated in {result['generated_in_s']} s; "
                  f"load average before {result['load_before'][0]:.2f}, after "
                  f"{result['load_after'][0]:.2f})", "",
                  "| operation | req/s | ratio to L0 | p50 ms | p99 ms | failed |",
                  "|---|---:|---:|---:|---:|---:|",
                  f"| L0 bare WSGI on waitress | {l0['rps']:,.0f} | 1.000 | {l0['p50_ms']} | "
                  f"{l0['p99_ms']} | {l0['failed']} |"]
        for f in result["operations"].values():
            if "skipped" in f:
                lines.append(f"| {f['label']} | skipped: {f['skipped']} | | | | |")
            else:
                lines.append(f"| {f['label']} | {f['rps']:,.0f} | {f['ratio']:.3f} | "
                             f"{f['p50_ms']} | {f['p99_ms']} | {f['failed']} |")
        attacked = result.get("under_attack")
        if attacked:
            lines += ["", "Under attack: one client's `GET /pet/{id}`, served as `timekit-api "
                          "serve` serves by default (`SERVE_*` settings).", "",
                      "| condition | p50 ms | p99 ms | p50 vs quiet | p99 vs quiet | failed |",
                      "|---|---:|---:|---:|---:|---:|"]
            for name, label in (("quiet", "quiet"),
                                ("idle_connections", f"{IDLE_CONNECTIONS} idle connections held"),
                                ("failed_logins", f"{ATTACKERS} clients sending failed logins")):
                f = attacked[name]
                lines.append(f"| {label} | {f['p50_ms']} | {f['p99_ms']} | "
                             f"{f.get('p50_vs_quiet', 1.0)} | {f.get('p99_vs_quiet', 1.0)} | "
                             f"{f['failed']} |")
        mem = result.get("memory_mib", {})
        lines += ["", f"Server memory after the run: VmHWM {mem.get('VmHWM')} MiB, VmRSS "
                      f"{mem.get('VmRSS')} MiB. 'database is locked' in the server log: "
                      f"{result['database_locked']}.", ""]
        memory = result.get("availability_memory")
        if memory:
            lines += [f"Availability memory: VmRSS {memory['rss_before_mib']} MiB before and "
                      f"{memory['rss_after_mib']} MiB after {memory['queries']} repeated "
                      f"one-pet queries ({memory['failed']} failed).", ""]
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in report["targets"]:
        lines.append(f"| {name} | {measured} | {'yes' if met else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pets", default="10000,100000",
                        help="comma-separated data set sizes (default: 10000,100000)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--only", nargs="*", help="operation names to run (default: all)")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python load generator")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds: small data, every operation, checks the answers")
    parser.add_argument("--bookings", type=int, default=10000,
                        help="bookings in each data set (the bookings list reads them)")
    parser.add_argument("--worker-compare", action="store_true",
                        help="measure GET pet and booking creation again with the worker "
                             "thread running")
    parser.add_argument("--worker-throughput", action="store_true",
                        help="time one worker recording --bookings/10 due transitions")
    parser.add_argument("--output", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.pets, args.duration, args.runs, args.warmup = "300", 1, 1, 0
        args.users, args.orders = 5, 300
    args.wrk = not args.no_wrk and shutil.which("wrk") is not None
    sizes = [int(n) for n in args.pets.split(",")]

    with tempfile.TemporaryDirectory(prefix="timekit-bench-") as tmp:
        results = [bench_dataset(pets, args, Path(tmp)) for pets in sizes]
        worker = bench_worker(args, Path(tmp)) if args.worker_throughput else None
    report = {
        "finished": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None
                                                          else sys.argv[1:]),
        "machine": machine(),
        "generator": "wrk -t1" if args.wrk else "Python fallback (benchmarks/loadgen.py)",
        "duration": args.duration, "runs": args.runs, "warmup": args.warmup,
        "results": results,
    }
    report["targets"] = targets(results)
    if worker:
        report["worker"] = worker
        report["targets"].append((
            f"one worker records {worker['due']} due of {worker['bookings']} bookings "
            f"<= 10 s", f"{worker['seconds']} s",
            worker["recorded"] == worker["due"] and worker["seconds"] <= 10))
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "latest.json").write_text(json.dumps(report, indent=2))
    (output / "latest.md").write_text(markdown(report))
    print(markdown(report))
    failures = [f for r in results for f in r["failures"]]
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
