"""Request throughput of the development core, two source trees side by side.

``python -m benchmarks.devcore_compare OLD_SRC NEW_SRC [--rounds N]`` runs the same
request loops against a core imported from each ``src`` directory (e.g. one exported
with ``git archive``), in turns (old, new, old, new, ...), each in a fresh process, and
prints the median requests per second and process CPU time (server and client threads,
microseconds) per request of each loop, and the new/old ratios (CPU time is steadier than
throughput on a busy machine):

- ``hello keep-alive``: ``GET /hello`` on one kept-alive connection;
- ``hello new conn``: ``GET /hello`` on a new connection each time (as the SDK does
  without the speed-up);
- ``metadata PUT``: ``PUT /recipe/user/metadata`` (JSON body, one database write) on one
  kept-alive connection;
- ``4 clients``: four threads, each on its own kept-alive connection, ``GET /apiversion``.

The client is ``http.client`` (little client-side work, so the server's cost shows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

LOOPS = ("hello keep-alive", "hello new conn", "metadata PUT", "4 clients")

_CHILD = r"""
import http.client, json, sys, threading, time
from st_twofactor.devcore import DevCore

def keep_alive(port, n, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    for i in range(n):
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
    conn.close()

def new_conn(port, n):
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/hello")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
        conn.close()

def timed(n, run):
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return [n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6]

def clients(port, threads, n):
    workers = [
        threading.Thread(target=keep_alive, args=(port, n, "GET", "/apiversion"))
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

n = int(sys.argv[1])
with DevCore() as core:
    port = int(core.url.rsplit(":", 1)[1])
    keep_alive(port, 200, "GET", "/hello")  # warm up
    body = json.dumps({"userId": "u", "metadataUpdate": {"a": 1}})
    rates = {
        "hello keep-alive": timed(n, lambda: keep_alive(port, n, "GET", "/hello")),
        "hello new conn": timed(n // 2, lambda: new_conn(port, n // 2)),
        "metadata PUT": timed(
            n // 2, lambda: keep_alive(port, n // 2, "PUT", "/recipe/user/metadata", body)
        ),
        "4 clients": timed(4 * (n // 4), lambda: clients(port, 4, n // 4)),
    }
print(json.dumps(rates))
"""


def run_once(src: str, requests: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(requests)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    rates: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_src")
    parser.add_argument("new_src")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, list[dict[str, list[float]]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        results["old"].append(run_once(args.old_src, args.requests))
        results["new"].append(run_once(args.new_src, args.requests))
    print(
        f"{'loop':<18} {'old req/s':>10} {'new req/s':>10} {'new/old':>8}"
        f" {'old CPU us/req':>15} {'new CPU us/req':>15} {'new/old':>8}"
    )
    for loop in LOOPS:
        old, new = (
            [statistics.median(r[loop][i] for r in results[side]) for i in (0, 1)]
            for side in ("old", "new")
        )
        print(
            f"{loop:<18} {old[0]:>10.0f} {new[0]:>10.0f} {new[0] / old[0]:>8.2f}"
            f" {old[1]:>15.0f} {new[1]:>15.0f} {new[1] / old[1]:>8.2f}"
        )


if __name__ == "__main__":
    main()
