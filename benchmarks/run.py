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
import datetime as dt
import http.client
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The servers are started by the test suite's helpers (tests/helpers.py says why there).
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests")]

import dataset  # noqa: E402
from helpers import LiveServer, free_port, spawn, waitress_serve_command  # noqa: E402

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
    notes: str = ""


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
    Operation("login", "GET /user/login (scrypt)",
              lambda ds, rng: ("GET", f"{PREFIX}/user/login?username={ds['username']}"
                                      f"&password={ds['password']}", ""), count=1,
              connections=4),
    Operation("post_pet", "POST /pet (4 writers)", new_pet, auth=True, connections=4),
    Operation("put_pet", "PUT /pet (4 writers)", changed_pet, auth=True, connections=4),
    Operation("post_order", "POST /store/order (4 writers)",
              lambda ds, rng: ("POST", f"{PREFIX}/store/order", json.dumps(
                  {"petId": rng.randint(1, ds["pets"]), "quantity": 1, "status": "placed",
                   "complete": False})), auth=True, connections=4),
    Operation("create_booking", "POST /bookings (4 writers)", booking, auth=True,
              connections=4, optional=f"{PREFIX}/bookings", count=20000),
    Operation("create_seat", "POST /bookings: a seat in a class of 1,000 (4 writers)", seat,
              auth=True, connections=4, optional=f"{PREFIX}/bookings/groups", count=20000),
    Operation("list_bookings", "GET /bookings?limit=50&page=1",
              lambda ds, rng: ("GET", f"{PREFIX}/bookings?limit=50&page=1", ""), auth=True,
              optional=f"{PREFIX}/bookings"),
]


# --- processes -------------------------------------------------------------------------------

def pinned(core: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core), *command]
    return command


class Server(LiveServer):
    """``python -m waitress --threads=4 <app>`` pinned to core 0, its output in ``log``:
    the test suite's ``LiveServer`` (tests/helpers.py), plus memory figures."""

    def __init__(self, name: str, app: str, cwd: Path, env: dict, log: Path):
        port = free_port()
        command = pinned(0, waitress_serve_command(port, threads=4, app=app))
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

    def median(key):
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 3) if values else None

    return {"rps": median("rps"), "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"),
            "requests": sum(r["requests"] for r in runs),
            "failed": sum(r["non2xx"] + r["errors"] for r in runs),
            "runs": [round(r["rps"], 1) for r in runs], "connections": connections}


# --- one data set ----------------------------------------------------------------------------

def bench_dataset(pets: int, args, work: Path) -> dict:
    print(f"== {pets} pets: generating", flush=True)
    db_path = work / f"bench-{pets}.sqlite3"
    url = f"sqlite:///{db_path}"
    ds = dataset.build(url, pets, users=args.users, orders=min(args.orders, 10 * pets))
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

    env = {"TIMEKIT_DATABASE_URL": url, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}"}
    service = Server("service", "service:app", ROOT, env, work / f"service-{pets}.log")
    service.wait_ready(f"{PREFIX}/store/inventory")
    result["service_pid_memory_at_start"] = service.memory()
    failures = []
    try:
        for op in OPERATIONS:
            if args.only and op.name not in args.only:
                continue
            rng = random.Random(f"{op.name}-{pets}")
            headers = {"Authorization": f"Bearer {ds['token']}"} if op.auth else {}
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
            method, target, body = requests[0]
            status, body = request_once(service.port,
                                        (method, target, fill_window(body, window_slots())),
                                        headers)
            if not 200 <= status < 300:
                failures.append(f"{op.name}: {status} {body[:200]!r}")
            path = work / f"{op.name}.tsv"
            write_requests(path, headers, requests)
            figures = measure(service.port, path, op.connections, args)
            figures["label"] = op.label
            figures["ratio"] = round(figures["rps"] / result["l0"]["rps"], 4)
            figures["first_status"] = status
            result["operations"][op.name] = figures
            if figures["failed"]:
                failures.append(f"{op.name}: {figures['failed']} failed requests")
            print(f"   {op.name}: {figures['rps']:.0f} req/s ratio {figures['ratio']:.3f} "
                  f"p50 {figures['p50_ms']} ms p99 {figures['p99_ms']} ms "
                  f"failed {figures['failed']}", flush=True)
        result["memory_mib"] = service.memory()
    finally:
        log = service.stop()
    result["database_locked"] = log.count("database is locked")
    result["load_after"] = os.getloadavg()
    result["failures"] = failures
    return result


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
        mem = result.get("memory_mib", {})
        lines += ["", f"Server memory after the run: VmHWM {mem.get('VmHWM')} MiB, VmRSS "
                      f"{mem.get('VmRSS')} MiB. 'database is locked' in the server log: "
                      f"{result['database_locked']}.", ""]
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
    parser.add_argument("--output", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.pets, args.duration, args.runs, args.warmup = "300", 1, 1, 0
        args.users, args.orders = 5, 300
    args.wrk = not args.no_wrk and shutil.which("wrk") is not None
    sizes = [int(n) for n in args.pets.split(",")]

    with tempfile.TemporaryDirectory(prefix="timekit-bench-") as tmp:
        results = [bench_dataset(pets, args, Path(tmp)) for pets in sizes]
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
