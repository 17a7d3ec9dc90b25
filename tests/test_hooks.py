"""Alert hooks on a real daemon: a file, a command and a webhook get the alert as JSON; a
hook that keeps failing is retried and given up, and the daemon is unaffected."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from tests.daemon_process import DaemonProcess, wait_until


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_alerts_reach_every_hook_and_a_broken_hook_hurts_nothing(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    lines, piped = tmp_path / "alerts.jsonl", tmp_path / "piped.json"
    config = f"""\
[ingest]
settle_s = 0.2

[[hook]]
kind = "file"
target = "{lines}"

[[hook]]
kind = "command"
target = "cat > {piped}"
rules = ["quarantined_file"]

[[hook]]
kind = "webhook"
target = "http://127.0.0.1:{server.server_port}/alerts"

[[hook]]
kind = "command"
target = "echo broken >&2; exit 3"
retries = 1

[[hook]]
kind = "file"
target = "{tmp_path / 'never.jsonl'}"
rules = ["dataset_drift"]
"""
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        inbox = daemon.home.inbox / "bikes"
        inbox.mkdir(parents=True)
        staged = daemon.home.root / ".broken.csv"
        staged.write_text("a,b\n1,2,3\n")
        os.rename(staged, inbox / "broken.csv")
        got = wait_until(lambda: lines.exists() and lines.read_text().strip() and
                         json.loads(lines.read_text().splitlines()[0]), timeout=30,
                         what="the alert in the file")
        assert got["event"] == "opened" and got["rule"] == "quarantined_file"
        assert got["subject"] == "dataset:bikes" and "broken.csv" in got["message"]
        piped_alert = wait_until(lambda: piped.exists() and piped.read_text() and
                                 json.loads(piped.read_text()), what="the command's stdin")
        assert piped_alert["id"] == got["id"]
        wait_until(lambda: _Receiver.received, what="the webhook")
        assert _Receiver.received[0]["id"] == got["id"]
        assert not (tmp_path / "never.jsonl").exists(), "rules select the alerts"
        # The broken hook is retried once, then given up; the daemon goes on answering.
        assert daemon.client is not None
        log = daemon.home.logs / "daemon.log"
        wait_until(lambda: log.exists() and "given up" in log.read_text(), timeout=30,
                   what="the broken hook to be given up")
        assert daemon.client.health().status == "ok"
        resolved = daemon.client.set_alert_state(got["id"], "resolved", note="fixed the file")
        assert resolved.state == "resolved"
        wait_until(lambda: len(lines.read_text().splitlines()) >= 2, what="the resolution")
        second = json.loads(lines.read_text().splitlines()[1])
        assert (second["event"], second["note"]) == ("resolved", "fixed the file")
    finally:
        assert daemon.stop() == 0
        server.shutdown()


def test_an_alert_not_yet_delivered_at_a_kill_is_delivered_after_the_restart(
        tmp_path: Path) -> None:
    """The notifier follows the event stream from its kept place, which stays before an
    alert whose delivery is still being tried: a kill -9 loses no alert."""
    out, gate = tmp_path / "delivered.jsonl", tmp_path / "gate"
    config = f"""\
[ingest]
settle_s = 0.2

[[hook]]
kind = "command"
target = "test -e {gate} && cat >> {out}"
retries = 10
"""
    daemon = DaemonProcess(tmp_path / "home", config=config).start()
    try:
        inbox = daemon.home.inbox / "bikes"
        inbox.mkdir(parents=True)
        staged = daemon.home.root / ".broken.csv"
        staged.write_text("a,b\n1,2,3\n")
        os.rename(staged, inbox / "broken.csv")
        assert daemon.client is not None
        wait_until(lambda: daemon.client.alerts(rule="quarantined_file"),
                   what="the alert")
        wait_until(lambda: "alert hook command" in daemon.output(),
                   what="a first failed delivery")
        daemon.kill()  # while its delivery is still being retried
        gate.touch()
        daemon.start()
        got = wait_until(lambda: out.exists() and out.read_text().strip(),
                         what="the delivery after the restart")
        body = json.loads(got.splitlines()[0])
        assert (body["event"], body["type"], body["rule"]) == (
            "opened", "alert.opened", "quarantined_file")
        assert isinstance(body["event_id"], int) and body["id"] == body["alert_id"]
    finally:
        daemon.kill()
