"""Replay control over the API: the state machine, progress, speed, and refusals."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

BOT = "/api/cassettes/bot/session.jsonl"
FEED = "/api/cassettes/feed/test_book.jsonl"


def wait_for(
    client: TestClient, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"{BOT}/replay").json()
        if check(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def test_status_is_idle_before_any_start(client: TestClient) -> None:
    assert client.get(f"{BOT}/replay").json() == {
        "cassette": "bot/session.jsonl",
        "state": "idle",
        "published": 0,
    }
    for action in ("pause", "resume", "stop"):
        response = client.post(f"{BOT}/replay/{action}")
        assert response.status_code == 404 and "no replay" in response.json()["error"]


def test_replay_runs_to_the_end_and_counts_every_event(client: TestClient) -> None:
    started = client.post(f"{BOT}/replay/start", json={"speed": 20})
    assert started.status_code == 201 and started.json()["state"] == "running"
    assert started.json()["total"] == 40
    status = wait_for(client, lambda s: s["state"] == "finished")
    assert status["state"] == "finished", status
    assert status["published"] == status["received"] == 40
    assert status["progress"] == 1.0
    assert status["by_name"] == {"Bar": 20, "Fill": 20}
    assert status["last"] == {"name": "Fill", "t": 975.0, "session": "s1"}
    assert status["position_ms"] >= 975.0
    again = client.post(f"{BOT}/replay/pause")
    assert again.status_code == 409 and "finished" in again.json()["error"]
    restarted = client.post(f"{BOT}/replay/start", json={"speed": 10000})
    assert restarted.status_code == 201  # a finished replay can be started again


def test_pause_holds_progress_and_resume_continues(client: TestClient) -> None:
    client.post(f"{BOT}/replay/start", json={"speed": 0.2})  # 975 ms of events: ~5 s
    running = wait_for(client, lambda s: s["published"] >= 2)
    assert running["state"] == "running" and 2 <= running["published"] < 40
    paused = client.post(f"{BOT}/replay/pause").json()
    assert paused["state"] == "paused"
    time.sleep(0.3)
    held = client.get(f"{BOT}/replay").json()
    assert held["published"] == paused["published"] and held["state"] == "paused"
    assert client.post(f"{BOT}/replay/pause").status_code == 409
    assert client.post(f"{BOT}/replay/start").status_code == 409  # already paused
    sped = client.post(f"{BOT}/replay/speed", json={"speed": 500}).json()
    assert sped["speed"] == 500 and sped["state"] == "paused"
    assert client.post(f"{BOT}/replay/resume").json()["state"] == "running"
    assert client.post(f"{BOT}/replay/resume").status_code == 409
    done = wait_for(client, lambda s: s["state"] == "finished")
    assert done["published"] == 40


def test_stop_ends_the_replay_early(client: TestClient) -> None:
    client.post(f"{BOT}/replay/start", json={"speed": 0.05})  # would take ~20 s
    wait_for(client, lambda s: s["published"] >= 1)
    stopped = client.post(f"{BOT}/replay/stop").json()
    assert stopped["state"] == "stopped" and stopped["published"] < 40
    time.sleep(0.2)
    after = client.get(f"{BOT}/replay").json()
    assert after["published"] == stopped["published"]
    assert client.post(f"{BOT}/replay/stop").status_code == 409


def test_speed_is_validated(client: TestClient) -> None:
    assert client.post(f"{BOT}/replay/start", json={"speed": 0}).status_code == 400
    assert client.post(f"{BOT}/replay/start", json={"speed": 1e9}).status_code == 400
    assert client.post(f"{BOT}/replay/start", json={"speed": "fast"}).status_code == 400
    client.post(f"{BOT}/replay/start", json={"speed": 0.05})
    bad = client.post(f"{BOT}/replay/speed", json={"speed": -1})
    assert bad.status_code == 400
    assert client.post(f"{BOT}/replay/stop").json()["state"] == "stopped"


def test_replay_needs_events_and_a_cassette_inside(client: TestClient) -> None:
    no_events = client.post(f"{FEED}/replay/start")
    assert no_events.status_code == 400 and "no events" in no_events.json()["error"]
    outside = client.post("/api/cassettes/%2e%2e/x.jsonl/replay/start")
    assert outside.status_code == 400
