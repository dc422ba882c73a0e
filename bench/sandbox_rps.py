"""Requests per second the sandbox serves on loopback, for GET ticket and PATCH update.

Starts ``reconcile sandbox serve --demo --tickets N`` as a subprocess (or in-process with
``--in-process``), then drives it from a thread pool of keep-alive ``requests`` sessions:
first GETs of random tickets for a fixed time, then PATCHes (each worker updates its own
tickets with the etags it got back, so no write is rejected). Prints one line per phase.

    python bench/sandbox_rps.py [--tickets 10000] [--threads 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from reconcile.sandbox import DEMO_ADMIN, Sandbox, SandboxOptions, make_token
from reconcile.sandbox.options import DEFAULT_REALM, DEFAULT_SECRET, DEFAULT_TENANT_ID

QUERY = "?type=template&module=ticketing"


def start_server(tickets: int, in_process: bool) -> tuple[str, Callable[[], None]]:
    if in_process:
        sandbox = Sandbox(SandboxOptions(port=0, demo=True, tickets=tickets)).start()
        return sandbox.base_url, sandbox.stop
    command = [sys.executable, "-m", "reconcile", "sandbox", "serve", "--port", "0", "--demo"]
    process = subprocess.Popen(
        [*command, "--tickets", str(tickets)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url:
        raise SystemExit("the sandbox did not start")

    def stop() -> None:
        process.terminate()
        process.wait(timeout=15)

    return url, stop


def headers() -> dict[str, str]:
    token = make_token(
        secret=DEFAULT_SECRET,
        tenant_id=DEFAULT_TENANT_ID,
        realm=DEFAULT_REALM,
        sub=DEMO_ADMIN.sub,
        roles=DEMO_ADMIN.roles,
        expires_in=3600,
    )
    return {
        "Authorization": f"Bearer {token}",
        "accept": "application/json",
        "x-tenantid": DEFAULT_TENANT_ID,
        "realmname": DEFAULT_REALM,
    }


def run_phase(
    name: str, threads: int, seconds: float, work: Callable[[int, requests.Session], int]
) -> None:
    """Each worker loops ``work`` until the time is up; ``work`` returns the HTTP status."""
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    start = threading.Barrier(threads + 1)

    def worker(n: int) -> None:
        with requests.Session() as session:
            start.wait()
            while time.monotonic() < deadline:
                began = time.perf_counter()
                status = work(n, session)
                latencies[n].append(time.perf_counter() - began)
                if status != 200:
                    failures[n] += 1

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, n) for n in range(threads)]
        start.wait()
        began = time.monotonic()
        for future in futures:
            future.result()
        elapsed = time.monotonic() - began
    every = sorted(x for worker_latencies in latencies for x in worker_latencies)
    p99 = every[int(len(every) * 0.99) - 1] * 1000 if every else 0.0
    print(
        f"{name:6} {len(every) / elapsed:8.0f} requests/s  ({len(every)} in {elapsed:.1f} s, "
        f"{threads} threads, p50 {statistics.median(every) * 1000:.1f} ms, p99 {p99:.1f} ms, "
        f"non-200: {sum(failures)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--in-process", action="store_true", help="serve from this process")
    args = parser.parse_args()

    started = time.monotonic()
    base, stop = start_server(args.tickets, args.in_process)
    print(f"sandbox with {args.tickets} generated tickets up in {time.monotonic() - started:.1f} s")
    try:
        api = f"{base}/api/v2/ticketing"
        common = headers()
        listed = requests.get(f"{api}/ticket?size=500", headers=common, timeout=30).json()
        types = requests.get(f"{api}/ticket-type", headers=common, timeout=30).json()["data"]
        description = {
            t["id"]: next(f["id"] for f in t["fields"] if f["name"] == "description") for t in types
        }
        total = listed["total"]
        ids = [
            t["object_id"]
            for page in range(1, total // 500 + 2)
            for t in requests.get(
                f"{api}/ticket?size=500&page={page}", headers=common, timeout=30
            ).json()["data"]
        ]
        prefixes = sorted({object_id.split("-")[0] for object_id in ids})
        print(f"{total} tickets of types {', '.join(prefixes)}")

        rng = random.Random(1)
        picks = [rng.choice(ids) for _ in range(100_000)]

        def get(n: int, session: requests.Session) -> int:
            object_id = picks[rng.randrange(len(picks))]
            return session.get(f"{api}/ticket/{object_id}", headers=common, timeout=30).status_code

        run_phase("GET", args.threads, args.seconds, get)

        owned: list[dict[str, Any]] = []
        for n in range(args.threads):
            ticket = requests.get(f"{api}/ticket/{ids[n * 7]}", headers=common, timeout=30).json()
            owned.append(ticket)
        counter = [0] * args.threads

        def patch(n: int, session: requests.Session) -> int:
            ticket = owned[n]
            counter[n] += 1
            body = {
                "etag": ticket["etag"],
                "ticketUpdate": {
                    description[ticket["ticket_type_id"]]: f"<p>write {counter[n]}</p>"
                },
            }
            response = session.patch(
                f"{api}/ticket/{ticket['object_id']}/update{QUERY}",
                json=body,
                headers=common,
                timeout=30,
            )
            if response.status_code == 200:
                ticket["etag"] = response.json()["etag"]
            return response.status_code

        run_phase("PATCH", args.threads, args.seconds, patch)
    finally:
        stop()


if __name__ == "__main__":
    main()
