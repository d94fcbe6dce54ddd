"""In-process cost and profile of one operation, without waitress or a network in between.

    .venv/bin/python benchmarks/profile.py --pets 10000 get_pet find_by_status
    .venv/bin/python benchmarks/profile.py --pets 100000 inventory --profile

Calls the WSGI app directly with the same requests as run.py and reports the CPU time per
call (process time: other processes on the machine barely move it, unlike requests/s).
``--profile`` adds a pyinstrument profile (``pip install pyinstrument``).
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import dataset  # noqa: E402
import run as bench  # noqa: E402


def call(app, environ_for, request) -> int:
    status = []
    body = app(environ_for(request), lambda s, h, e=None: status.append(s))
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return int(status[0].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("operations", nargs="+")
    parser.add_argument("--pets", type=int, default=10000)
    parser.add_argument("--bookings", type=int, default=0,
                        help="bookings in the data set (list_bookings reads them)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per operation")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import os

    from werkzeug.test import EnvironBuilder

    tmp = tempfile.mkdtemp(prefix="timekit-profile-")
    url = f"sqlite:///{tmp}/profile.sqlite3"
    ds = dataset.build(url, args.pets, users=10, orders=min(10000, 10 * args.pets),
                       bookings=args.bookings)
    os.environ["TIMEKIT_DATABASE_URL"] = url
    os.environ["TIMEKIT_WORKER_ENABLED"] = "0"  # as run.py serves it: no thread beside
    os.environ["TIMEKIT_ACCESS_LOG"] = "0"
    os.environ.update(bench.UNLIMITED_ENVIRONMENT)  # as run.py serves it: limits out of reach
    import service

    app = service.app
    operations = {op.name: op for op in bench.OPERATIONS}
    for name in args.operations:
        op = operations[name]
        rng = random.Random(name)
        headers = {"Authorization": f"Bearer {ds[op.credential]}"} if op.auth else {}
        headers.update(op.headers or {})
        if op.accept:
            headers["Accept"] = op.accept
        requests = [op.make(ds, rng) for _ in range(200)]
        slots = itertools.count()

        def environ_for(request, headers=headers, slots=slots):
            method, path, body = request
            slot = str(next(slots))  # "@SLOT@": a value of its own per request, as in run.py
            builder = EnvironBuilder(path=path, method=method, headers={
                name: value.replace("@SLOT@", slot) for name, value in headers.items()},
                                     data=body or None,
                                     content_type="application/json" if body else None)
            return builder.get_environ()

        for request in requests[:20]:  # warm-up
            assert 200 <= call(app, environ_for, request) < 300, request
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
        # Rounds, and the fastest one: on a shared 2-core machine the others' load inflates
        # even CPU time (caches, frequency), never deflates it.
        per_call, calls = [], 0
        for _ in range(args.rounds):
            n, started = 0, time.process_time()
            deadline = time.perf_counter() + args.seconds / args.rounds
            while time.perf_counter() < deadline:
                call(app, environ_for, requests[n % len(requests)])
                n += 1
            cpu = time.process_time() - started
            # The environ building is the harness's own cost: measure it alone, subtract it.
            started = time.process_time()
            for i in range(n):
                environ_for(requests[i % len(requests)])
            per_call.append((cpu - (time.process_time() - started)) / n)
            calls += n
        if profiler:
            profiler.stop()
        print(f"{name}: {calls} calls, {min(per_call) * 1e6:,.0f} us CPU per call at best, "
              f"median {statistics.median(per_call) * 1e6:,.0f} us (in-process, "
              f"{args.pets} pets)")
        if profiler:
            out = io.StringIO()
            out.write(profiler.output_text(unicode=False, color=False, show_all=False))
            print(out.getvalue())


if __name__ == "__main__":
    main()
