"""The benchmark's sign-in attack: ``--clients`` clients sending failed sign-ins until
stopped (SIGTERM), then the answers' status counts as JSON on stdout.

    python benchmarks/attackers.py --port 8080 --clients 24

It runs in a process of its own at the lowest CPU priority. On the benchmark's one machine
the attacking clients otherwise took CPU from the measuring client (wrk) and from the server,
which an attack from other machines does not; the server still answers every attack request
at its normal priority, and the attackers use whatever CPU is left.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import signal
import threading


def failed_logins(port: int, prefix: str, stop: threading.Event, client: int,
                  counts: collections.Counter) -> None:
    """One attacker: failed sign-ins for names that do not exist, from its own local address
    (127.0.0.<2+client>), so that the per-address limit does not end the attack early."""
    rng = random.Random(client)
    while not stop.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                                source_address=(f"127.0.0.{2 + client}", 0))
        try:
            connection.request("GET", f"{prefix}/user/login?username=nobody"
                                      f"{rng.randint(1, 10**9)}&password=wrong-password")
            counts[connection.getresponse().status] += 1
        except OSError:
            counts["error"] += 1
        finally:
            connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--prefix", default="/v2")
    args = parser.parse_args()
    os.nice(19)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts: collections.Counter = collections.Counter()
    clients = [threading.Thread(target=failed_logins,
                                args=(args.port, args.prefix, stop, n, counts))
               for n in range(args.clients)]
    for client in clients:
        client.start()
    while not stop.wait(0.1):  # wakes for the signal handler
        pass
    for client in clients:
        client.join()
    print(json.dumps({str(status): count for status, count in counts.items()}), flush=True)


if __name__ == "__main__":
    main()
