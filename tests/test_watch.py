"""``reconcile watch``: a Watcher over the sandbox, its endpoints over real HTTP, and a
loopback webhook receiver.

Cycles run every 0.1 s; every test waits on conditions (never on wall-clock time),
with generous timeouts for a loaded machine.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from reconcile.auth import StaticToken
from reconcile.client import TicketingClient
from reconcile.config import Settings, load_settings
from reconcile.endpoints import EndpointServer
from reconcile.errors import ConfigError
from reconcile.notify import Notifier, redact_url
from reconcile.sandbox import DEMO_ADMIN, Sandbox
from reconcile.watch import Watcher, WatchOptions

from sandbox_api import edit_by_hand, field_ids, live

INTERVAL = 0.1
TIMEOUT = 60.0
MANIFEST = """\
tickets:
  - id: REQ-0509
    fields:
      location: Berlin office
      priority: Low
    protected: [priority]
"""
WEBHOOK_TOKEN = "T0SECRET/B0SECRET/xoxb-hook-secret"


def wait_for(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


class Receiver:
    """A loopback webhook: records each POSTed JSON body; answers 500 to the first
    ``fail_first`` requests."""

    def __init__(self, fail_first: int = 0):
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail_first = fail_first
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                receiver.requests += 1
                if receiver.requests <= receiver.fail_first:
                    self.send_response(500)
                else:
                    receiver.bodies.append(body)
                    receiver.paths.append(self.path)
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{WEBHOOK_TOKEN}?token=q-secret-123"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def events(self, event: str) -> list[dict[str, Any]]:
        return [b for b in list(self.bodies) if b["event"] == event]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Running:
    """A Watcher looping on its own thread, with its endpoints served on a free port."""

    def __init__(self, sandbox: Sandbox, options: WatchOptions, notify: tuple[str, ...] = ()):
        settings = Settings(
            base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm
        )
        token = sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=())
        self.client = TicketingClient(settings, StaticToken(token))
        self.notifier = Notifier(notify, first_wait=0.05, max_wait=0.2)
        self.watcher = Watcher(self.client, options, notifier=self.notifier)
        self.server = EndpointServer(self.watcher, "127.0.0.1", 0).start()
        self.url = self.server.url
        self.thread = threading.Thread(target=self.watcher.run, daemon=True)

    def start(self) -> Running:
        self.thread.start()
        wait_for(lambda: self.watcher.alive, "the loop to start")
        return self

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def status(self) -> dict[str, Any]:
        response = self.get("/status")
        assert response.status_code == 200
        return response.json()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = self.get("/metrics")
        assert response.status_code == 200
        samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def cycles_after(self, count: int) -> int:
        """Wait until ``count`` more cycles have completed; the cycle count then."""
        target = self.watcher.cycles + count
        wait_for(lambda: self.watcher.cycles >= target, f"{count} more cycles")
        return self.watcher.cycles

    def close(self) -> None:
        self.watcher.stop.set()
        if self.thread.is_alive():
            self.thread.join(TIMEOUT)
        self.notifier.close()
        self.server.stop()
        self.client.close()


@pytest.fixture
def watching(sandbox: Sandbox, tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start watchers over ``tmp_path/m.yaml`` (MANIFEST unless written before); all are
    stopped at teardown."""
    started: list[Running] = []
    manifest = tmp_path / "m.yaml"

    def start(notify: tuple[str, ...] = (), run: bool = True, **options: Any) -> Running:
        if not manifest.exists():
            manifest.write_text(MANIFEST, encoding="utf-8")
        options.setdefault("interval", INTERVAL)
        running = Running(sandbox, WatchOptions(paths=(str(manifest),), **options), notify)
        started.append(running)
        return running.start() if run else running

    yield start
    for running in started:
        running.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def location(sandbox: Sandbox) -> str:
    return field_ids(sandbox)["location"]


def drifted_ids(status: dict[str, Any]) -> list[str]:
    last = status["last_cycle"] or {}
    return [t["id"] for t in last.get("drifted", [])]


def test_ready_after_the_first_cycle_and_a_foreign_edit_shows_in_status_and_metrics(
    sandbox: Sandbox, watching: Callable[..., Running]
) -> None:
    running = watching(run=False)
    assert running.get("/readyz").status_code == 503
    assert running.get("/healthz").status_code == 503  # the loop is not running yet
    running.start()
    wait_for(lambda: running.get("/readyz").status_code == 200, "/readyz to turn ready")
    assert running.get("/healthz").status_code == 200
    assert running.status()["last_cycle"]["counts"] == {"in_sync": 1, "drifted": 0, "error": 0}

    edit_by_hand(sandbox, "REQ-0509", {location(sandbox): "Hamburg office"}, who="jdoe")
    status = wait_for(
        lambda: (s := running.status()) and drifted_ids(s) == ["REQ-0509"] and s,
        "the drift in /status",
    )
    (ticket,) = status["last_cycle"]["drifted"]
    assert ticket["last_updated_by"] == "jdoe"
    assert [(f["name"], f["live"], f["declared"]) for f in ticket["fields"]] == [
        ("location", "Hamburg office", "Berlin office")
    ]
    metrics = running.metrics()
    assert metrics[("reconcile_tickets", (("state", "drifted"),))] == 1
    assert metrics[("reconcile_tickets", (("state", "in_sync"),))] == 0
    assert metrics[("reconcile_cycles_total", (("result", "ok"),))] >= 2
    assert metrics[("reconcile_api_requests_total", (("method", "GET"), ("status", "200")))] >= 2
    assert metrics[("reconcile_last_success_timestamp_seconds", ())] > 0
    assert ("reconcile_cycle_duration_seconds_count", ()) in metrics
    assert metrics[("reconcile_writes_total", (("result", "updated"),))] == 0
    page = running.get("/")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "REQ-0509" in page.text and "Hamburg office" in page.text
    assert running.get("/nope").status_code == 404
    assert requests.post(running.url + "/status", timeout=10).status_code == 405


def test_a_drift_is_notified_once_across_cycles_and_restarts_then_resolved(
    sandbox: Sandbox,
    watching: Callable[..., Running],
    receiver: Receiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.fail_first = 1  # the first delivery fails and is retried
    state = tmp_path / "state"
    caplog.set_level(logging.INFO, logger="reconcile")
    first = watching(notify=(receiver.url,), state_dir=state)
    first.cycles_after(1)
    edit_by_hand(sandbox, "REQ-0509", {location(sandbox): "Hamburg office"}, who="jdoe")
    (drift,) = wait_for(lambda: receiver.events("drift"), "the drift notification")
    assert drift["tickets"][0]["id"] == "REQ-0509"
    assert drift["tickets"][0]["fields"][0]["name"] == "location"
    assert "REQ-0509 (location) by jdoe" in drift["text"]
    first.cycles_after(3)
    assert len(receiver.bodies) == 1, receiver.bodies
    first.close()

    second = watching(notify=(receiver.url,), state_dir=state)
    second.cycles_after(3)
    assert len(receiver.bodies) == 1, "a restart with the same state dir notified again"

    edit_by_hand(sandbox, "REQ-0509", {location(sandbox): "Berlin office"}, who="jdoe")
    (resolved,) = wait_for(lambda: receiver.events("resolved"), "the resolved notification")
    assert resolved["tickets"] == [{"id": "REQ-0509", "fields": [{"name": "location"}]}]
    second.cycles_after(3)
    assert [b["event"] for b in receiver.bodies] == ["drift", "resolved"]
    assert second.status()["notifications"] == {"delivered": 1, "failed": 0}

    assert receiver.requests == 3  # one failed delivery, retried
    logs = caplog.text
    assert "retrying" in logs
    assert "SECRET" not in logs and "q-secret-123" not in logs
    assert redact_url(receiver.url) in logs
    saved = (state / "notified.json").read_text(encoding="utf-8")
    assert "Hamburg" not in saved and "Berlin" not in saved


def test_self_heal_fixes_a_foreign_edit_within_a_cycle_and_counts_the_write(
    sandbox: Sandbox, watching: Callable[..., Running]
) -> None:
    running = watching(self_heal=True)
    running.cycles_after(1)
    edit_by_hand(sandbox, "REQ-0509", {location(sandbox): "Hamburg office"})
    wait_for(
        lambda: live(sandbox, "REQ-0509")["data"][location(sandbox)] == "Berlin office",
        "self-heal to restore the declared value",
    )
    wait_for(
        lambda: running.metrics()[("reconcile_writes_total", (("result", "updated"),))] == 1,
        "the write to be counted",
    )
    running.cycles_after(2)
    assert running.metrics()[("reconcile_writes_total", (("result", "updated"),))] == 1
    assert running.status()["last_cycle"]["counts"]["drifted"] == 0


def test_a_safety_refusal_is_reported_and_not_retried_until_live_tickets_change(
    sandbox: Sandbox, watching: Callable[..., Running], receiver: Receiver
) -> None:
    """A protected field drifted: self-heal refuses (no --allow-protected), says so once,
    and checks again only after the live ticket changed."""
    running = watching(notify=(receiver.url,), self_heal=True)
    running.cycles_after(1)
    sandbox.reset_stats()
    edit_by_hand(sandbox, "REQ-0509", {field_ids(sandbox)["priority"]: "High"})
    status = wait_for(
        lambda: (s := running.status())["last_cycle"]["self_heal_refused"] and s,
        "the refusal in /status",
    )
    assert (
        "protected fields: REQ-0509 field 'priority'" in status["last_cycle"]["self_heal_refused"]
    )
    assert running.metrics()[("reconcile_self_heal_refused", ())] == 1
    running.cycles_after(3)
    refusals = [b for b in receiver.events("error") if "self-heal refused" in b["text"]]
    assert len(refusals) == 1, receiver.bodies
    assert sandbox.stats()["writes"]["patches"] == 1  # the foreign edit alone

    edit_by_hand(sandbox, "REQ-0509", {field_ids(sandbox)["priority"]: "Critical"})
    wait_for(
        lambda: len([b for b in receiver.events("error") if "self-heal refused" in b["text"]]) == 2,
        "a new refusal once the live ticket changed",
    )
    assert sandbox.stats()["writes"]["patches"] == 2


def test_a_failing_cycle_is_reported_and_backs_off_up_to_the_interval(
    sandbox: Sandbox, watching: Callable[..., Running], tmp_path: Path, receiver: Receiver
) -> None:
    (tmp_path / "m.yaml").write_text("tickets:\n  - id: REQ-0509\n    fields: [oops]\n")
    running = watching(notify=(receiver.url,), run=False, interval=300)
    for _ in range(3):
        report = running.watcher.run_cycle()
        assert not report.ok
    assert "m.yaml:3" in (report.error or "")
    # 5 s, 10 s, then 20 s after the third failure, ±10 %: never more than the interval.
    assert 18 <= running.watcher.next_delay() <= 22
    for _ in range(4):
        running.watcher.run_cycle()
    assert running.watcher.next_delay() <= 300 * 1.1
    assert running.get("/readyz").status_code == 200
    status = running.status()
    assert status["consecutive_failures"] == 7
    assert "m.yaml:3" in status["last_error"]["message"]
    assert status["last_cycle"]["result"] == "error"
    wait_for(lambda: receiver.events("error"), "the error notification")
    assert len(receiver.events("error")) == 1  # the same error is notified once
    metrics = running.metrics()
    assert metrics[("reconcile_cycles_total", (("result", "error"),))] == 7


def test_sensitive_values_and_tokens_never_show_on_the_endpoints_or_in_notifications(
    sandbox: Sandbox, watching: Callable[..., Running], tmp_path: Path, receiver: Receiver
) -> None:
    (tmp_path / "m.yaml").write_text(
        "tickets:\n  - id: REQ-0509\n    fields:\n      location: Berlin office\n"
        "    sensitive: [location]\n"
    )
    running = watching(notify=(receiver.url,))
    running.cycles_after(1)
    edit_by_hand(sandbox, "REQ-0509", {location(sandbox): "Vault code 8812"})
    wait_for(lambda: receiver.events("drift"), "the drift notification")
    status = running.get("/status").text
    shown = status + running.get("/metrics").text + running.get("/").text
    shown += json.dumps(receiver.bodies)
    assert "(sensitive)" in status
    assert "8812" not in shown and "Berlin office" not in shown
    assert running.client.token_source.token() not in shown


def test_once_exits_with_drift_statuses(cli, sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MANIFEST)
    assert cli("watch", "m.yaml", "--once").exit_code == 0
    edit_by_hand(sandbox, "REQ-0509", {location(sandbox): "Hamburg office"})
    drifted = cli("watch", "m.yaml", "--once", "--log-format", "json", expect=2)
    lines = [json.loads(line) for line in drifted.stderr.splitlines()]
    assert any("1 drifted" in line["message"] for line in lines)
    healed = cli("watch", "m.yaml", "--once", "--self-heal", expect=0)
    assert "1 healed" in healed.stderr
    assert live(sandbox, "REQ-0509")["data"][location(sandbox)] == "Berlin office"
    (tmp_path / "bad.yaml").write_text("tickets: {}\n")
    failed = cli("watch", "bad.yaml", "--once", expect=1)
    assert "bad.yaml" in failed.stderr and "Traceback" not in failed.stderr


def test_watch_options_are_settings(tmp_path: Path) -> None:
    env = {
        "RECONCILE_INTERVAL": "0.5",
        "RECONCILE_SELF_HEAL": "true",
        "RECONCILE_LISTEN": "0.0.0.0:9000",
        "RECONCILE_NOTIFY_URLS": "https://a.example/x?token=1 https://b.example/y",
        "RECONCILE_LOG_FORMAT": "json",
    }
    settings = load_settings({}, env=env, cwd=tmp_path)
    assert (settings.interval, settings.self_heal, settings.listen) == (0.5, True, "0.0.0.0:9000")
    assert settings.notify_urls == ("https://a.example/x?token=1", "https://b.example/y")
    assert settings.log_format == "json"
    (tmp_path / "reconcile.yaml").write_text("interval: 60\nstate_dir: state\n")
    settings = load_settings({}, env={}, cwd=tmp_path)
    assert (settings.interval, settings.state_dir) == (60.0, tmp_path / "state")
    with pytest.raises(ConfigError, match=r"interval: expected at least 0\.1 seconds"):
        load_settings({"interval": 0.01}, env={}, cwd=tmp_path)
    (tmp_path / "reconcile.yaml").write_text("notify_urls: [https://hooks.example/T0/secret]\n")
    with pytest.raises(ConfigError, match="RECONCILE_NOTIFY_URLS") as refused:
        load_settings({}, env={}, cwd=tmp_path)
    assert "secret" not in str(refused.value).split("looks like a secret")[0]
    with pytest.raises(ConfigError) as bad:
        load_settings({}, env={"RECONCILE_NOTIFY_URLS": "ftp://x/very-secret"}, cwd=tmp_path / "x")
    assert "very-secret" not in str(bad.value)


def test_redact_url_keeps_only_scheme_and_host() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/xyz") == "https://hooks.slack.com/…"
    assert redact_url("http://user:pw@[::1]:8080/h?token=1") == "http://[::1]:8080/…"
    assert redact_url("https://example.com") == "https://example.com"


def test_each_cycle_rereads_the_manifests_from_disk(
    sandbox: Sandbox, watching: Callable[..., Running], tmp_path: Path
) -> None:
    running = watching()
    running.cycles_after(1)
    assert drifted_ids(running.status()) == []
    (tmp_path / "m.yaml").write_text(MANIFEST.replace("Berlin office", "Paris office"))
    status = wait_for(
        lambda: (s := running.status()) and drifted_ids(s) == ["REQ-0509"] and s,
        "the edited manifest to be read",
    )
    (ticket,) = status["last_cycle"]["drifted"]
    assert ticket["fields"][0]["declared"] == "Paris office"


def test_delays_have_ten_percent_jitter_around_the_interval(
    sandbox: Sandbox, watching: Callable[..., Running]
) -> None:
    watcher = watching(run=False, interval=300).watcher
    delays = [watcher.next_delay() for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays)
    assert min(delays) < 285 and max(delays) > 315  # spread over the range, not fixed


def test_self_heal_updates_but_leaves_creating_declared_tickets_to_apply(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A declared ticket no live ticket holds the key of is reported as to be created;
    creating it (and writing its id back into the manifests) is apply's job."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "tickets:\n  - id: REQ-0509\n    fields:\n      location: Hamburg office\n"
        "  - key: onboarding-alice\n    type: REQ\n    fields:\n      summary: Onboard Alice\n"
        "      priority: Low\n      status: New\n"
        "      requester: 081fa3d8-346f-460a-a1b1-dc4ae6d46b2d\n"
    )
    settings = Settings(base_url=sandbox.base_url, tenant_id=sandbox.tenant_id, realm=sandbox.realm)
    token = StaticToken(sandbox.token(sub=DEMO_ADMIN.sub, roles=DEMO_ADMIN.roles, teams=()))
    with TicketingClient(settings, token) as client:
        watcher = Watcher(
            client, WatchOptions(paths=(str(manifest),), self_heal=True), key_field="external_ref"
        )
        report = watcher.run_cycle()
    assert report.ok, report.error
    assert report.counts == {"in_sync": 1, "drifted": 1, "error": 0}
    assert report.to_create == [{"name": "REQ onboarding-alice", "location": f"{manifest}:5"}]
    assert report.writes == {"updated": 1, "created": 0, "failed": 0}
    assert sandbox.stats()["writes"]["creates"] == 0
    assert live(sandbox, "REQ-0509")["data"][location(sandbox)] == "Hamburg office"
