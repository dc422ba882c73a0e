"""Requests per second the sandbox serves on loopback, for GET ticket and PATCH update.

Starts ``reconcile sandbox serve --demo --tickets N`` as a subprocess (or in-process with
``--in-process``), then drives it from threads, each with its own keep-alive connection
(``http.client``: a light client, so that the figure is the server's and not the
driver's): first GETs of random tickets for a fixed time, then PATCHes (each worker
updates its own ticket with the etags it got back, so no write is rejected). Prints one
line per phase, with the server's own CPU time per request (read from ``/proc``, for a
subprocess on Linux).

With ``--latency-ms L`` the server sleeps L before each request: throughput should then
be about threads / L, since a sleeping request must hold no lock and no shared worker.

    python bench/sandbox_rps.py [--tickets 10000] [--threads 8] [--seconds 10] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconcile.sandbox import DEMO_ADMIN, Sandbox, SandboxOptions, make_token
from reconcile.sandbox.options import DEFAULT_REALM, DEFAULT_SECRET, DEFAULT_TENANT_ID

API = "/api/v2/ticketing"
QUERY = "?type=template&module=ticketing"


class Server:
    """The sandbox under test: its URL, how to stop it, and its CPU seconds so far."""

    def __init__(self, tickets: int, latency_ms: float, in_process: bool) -> None:
        self.pid: int | None = None
        if in_process:
            options = SandboxOptions(port=0, demo=True, tickets=tickets, latency_ms=latency_ms)
            sandbox = Sandbox(options).start()
            self.url, self.stop = sandbox.base_url, sandbox.stop
            return
        command = [sys.executable, "-m", "reconcile", "sandbox", "serve", "--port", "0"]
        command += ["--demo", "--tickets", str(tickets), "--latency-ms", str(latency_ms)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        self.url = process.stdout.readline().strip()
        if not self.url:
            raise SystemExit("the sandbox did not start")
        self.pid = process.pid

        def stop() -> None:
            process.terminate()
            process.wait(timeout=15)

        self.stop = stop

    def peak_rss_mb(self) -> float | None:
        """The server process's peak resident set (Linux, subprocess only)."""
        status = Path(f"/proc/{self.pid}/status")
        if self.pid is None or not status.exists():
            return None
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server process (Linux, subprocess only)."""
        stat = Path(f"/proc/{self.pid}/stat")
        if self.pid is None or not stat.exists():
            return None
        fields = stat.read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class Connection:
    """One keep-alive connection: ``request`` returns the status and the parsed body."""

    def __init__(self, url: str, common: dict[str, str]) -> None:
        parts = urlsplit(url)
        self._http = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        self._headers = common
        self._json_headers = {**common, "content-type": "application/json"}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if body is None:
            self._http.request(method, path, headers=self._headers)
        else:
            self._http.request(method, path, json.dumps(body), headers=self._json_headers)
        response = self._http.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def close(self) -> None:
        self._http.close()


def run_phase(
    name: str,
    server: Server,
    threads: int,
    seconds: float,
    work: Callable[[int, Connection], int],
) -> None:
    """Each worker loops ``work`` until the time is up; ``work`` returns the HTTP status."""
    common = headers()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(n: int) -> None:
        connection = Connection(server.url, common)
        try:
            start.wait()
            while time.monotonic() < deadline[0]:
                began = time.perf_counter()
                status = work(n, connection)
                latencies[n].append(time.perf_counter() - began)
                if status != 200:
                    failures[n] += 1
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, n) for n in range(threads)]
        cpu_before = server.cpu_seconds()
        deadline[0] = time.monotonic() + seconds
        start.wait()
        began = time.monotonic()
        for future in futures:
            future.result()
        elapsed = time.monotonic() - began
        cpu_after = server.cpu_seconds()
    every = sorted(x for worker_latencies in latencies for x in worker_latencies)
    p99 = every[int(len(every) * 0.99) - 1] * 1000 if every else 0.0
    cpu = ""
    if cpu_before is not None and cpu_after is not None and every:
        cpu = f", server CPU {(cpu_after - cpu_before) / len(every) * 1e6:.0f} us/request"
    print(
        f"{name:6} {len(every) / elapsed:8.0f} requests/s  ({len(every)} in {elapsed:.1f} s, "
        f"{threads} threads, p50 {statistics.median(every) * 1000:.1f} ms, p99 {p99:.1f} ms, "
        f"non-200: {sum(failures)}{cpu})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--in-process", action="store_true", help="serve from this process")
    args = parser.parse_args()

    started = time.monotonic()
    server = Server(args.tickets, args.latency_ms, args.in_process)
    print(f"sandbox with {args.tickets} generated tickets up in {time.monotonic() - started:.1f} s")
    setup = Connection(server.url, headers())
    try:
        _, types = setup.request("GET", f"{API}/ticket-type")
        description = {
            t["id"]: next(f["id"] for f in t["fields"] if f["name"] == "description")
            for t in types["data"]
        }
        ids: list[str] = []
        total = 1
        while len(ids) < total:
            _, page = setup.request("GET", f"{API}/ticket?size=500&page={len(ids) // 500 + 1}")
            total = page["total"]
            ids += [t["object_id"] for t in page["data"]]
        prefixes = sorted({object_id.split("-")[0] for object_id in ids})
        print(f"{total} tickets of types {', '.join(prefixes)}")

        rng = random.Random(1)
        picks = [f"{API}/ticket/{rng.choice(ids)}" for _ in range(100_000)]

        def get(n: int, connection: Connection) -> int:
            return connection.request("GET", picks[rng.randrange(len(picks))])[0]

        run_phase("GET", server, args.threads, args.seconds, get)

        owned = [setup.request("GET", f"{API}/ticket/{ids[n * 7]}")[1] for n in range(args.threads)]
        counter = [0] * args.threads

        def patch(n: int, connection: Connection) -> int:
            ticket = owned[n]
            counter[n] += 1
            value = f"<p>write {counter[n]}</p>"
            body = {
                "etag": ticket["etag"],
                "ticketUpdate": {description[ticket["ticket_type_id"]]: value},
            }
            path = f"{API}/ticket/{ticket['object_id']}/update{QUERY}"
            status, answer = connection.request("PATCH", path, body)
            if status == 200:
                ticket["etag"] = answer["etag"]
            return status

        run_phase("PATCH", server, args.threads, args.seconds, patch)
        rss = server.peak_rss_mb()
        if rss is not None:
            print(f"server peak RSS: {rss:.0f} MB")
    finally:
        setup.close()
        server.stop()


if __name__ == "__main__":
    main()
