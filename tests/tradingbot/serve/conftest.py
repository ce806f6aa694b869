"""The bot live against the local indexer, recorded through the plugin, and its replay.

:func:`record_live_session` runs ``tradingbot run --serve 0`` (a subprocess, as users run it)
against a seeded local indexer inside ``use_cassette(record_mode="all")``: the subprocess
inherits the proxy's environment, so its indexer feed is recorded, and this process reads the
bot's bar WebSocket through the same proxy, so what the bot served is recorded too. The one
session cassette is then cut (with ``streamreplay filter``'s code) into the input cassette (the
feed connection) and the output cassette (the bar WebSocket).

The feed is made to end before the bot does: once enough bars are confirmed the indexer stalls
its connections (it stops sending), and the bot keeps running for ``QUIET`` seconds more, so
everything recorded on the input side was processed by the bot. See docs/web.md, "Parity end
to end".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bot_process import BotProcess
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from pytest_streamreplay.cassette.query import Query, write_filtered
from pytest_streamreplay.harness import runtime, use_cassette
from tradingbot.pipeline import Pipeline, PipelineConfig, replay
from tradingbot.serve import BAR_CONFIRMED, BAR_FORMING, BarHub
from tradingbot.simulator import SimulatorConfig, SimulatorThread
from tradingbot.strategy import StrategyConfig

MARKET = "BTC-USD"
RESOLUTION = "1MIN"
INDEXER = SimulatorConfig(
    seed=11,
    markets=("BTC-USD", "ETH-USD"),
    tick_ms=20,  # 1 s of market time per 20 ms: a 1MIN bar every 1.2 s of wall time
    step_ms=1000,
    flush_ms=100,
    settle_ms=500,  # the first trade comes well after the bar client has subscribed
    heartbeat_s=None,
)
MARKET_SPEED = INDEXER.step_ms / INDEXER.tick_ms
BOT_SECONDS = 8.0
QUIET = 2.0  # seconds between the feed's last message and the bot's end
WANT_CONFIRMED = 4  # stall the feed once the client has seen this many confirmed bars

Message = dict[str, Any]


def bot_config(markets: tuple[str, ...] = (MARKET,)) -> PipelineConfig:
    """The config ``tradingbot run --rest-url ... --market ...`` builds: bars are confirmed on
    the exchange's clock (a local indexer's market time is not the wall time). A replay must
    use the same config to build the same bars."""
    return PipelineConfig(exchange_clock=True, strategy=StrategyConfig(markets=markets))


@dataclass(frozen=True)
class LiveSession:
    session: Path
    """Everything the proxy recorded: the bot's feed and the client's bar WebSocket."""
    input: Path
    """The bot's indexer connection only: what the replay is fed."""
    output: Path
    """The bar WebSocket only, as the client received it."""
    received: list[Message]
    """The bar messages the client read (the output cassette must hold exactly these)."""
    summary: dict[str, Any]
    """The bot's summary JSON."""


def bars_ws_url(serving_url: str, market: str = MARKET, resolution: str = RESOLUTION) -> str:
    return serving_url.replace("http://", "ws://", 1) + f"ws/bars/{market}/{resolution}"


def _read_bars(url: str, indexer: SimulatorThread, quiet_at: float) -> list[Message]:
    """Read bar messages until the bot closes the socket; stall the indexer once enough bars
    are confirmed, or at ``quiet_at`` (monotonic) at the latest. Bounded by a deadline."""
    received: list[Message] = []
    confirmed = 0
    stalled = False
    deadline = quiet_at + QUIET + 15
    with connect(url, open_timeout=10) as ws:
        while time.monotonic() < deadline:
            if not stalled and (confirmed >= WANT_CONFIRMED or time.monotonic() >= quiet_at):
                indexer.stall()
                stalled = True
            try:
                text = ws.recv(timeout=0.25)
            except TimeoutError:
                continue
            except ConnectionClosed:
                break
            message = json.loads(text)
            received.append(message)
            confirmed += message["type"] == BAR_CONFIRMED
        else:
            raise AssertionError(f"the bot did not close {url} in time")
    return received


def record_live_session(root: Path) -> LiveSession:
    """Run the bot live for ``BOT_SECONDS`` against a local indexer, recording both sides."""
    session = root / "session.jsonl"
    indexer = SimulatorThread(INDEXER).start()
    try:
        with use_cassette(session, record_mode="all") as sr:
            sr.note = f"tradingbot run --serve against a local indexer (seed {INDEXER.seed})"
            bot = BotProcess(
                "run",
                *("--rest-url", indexer.rest_url, "--ws-url", indexer.ws_url),
                *("--market", MARKET, "--duration", str(BOT_SECONDS)),
                *("--paper", "--headless", "--serve", "0"),
            )
            try:
                url = bot.serving_url()
                quiet_at = time.monotonic() + BOT_SECONDS - QUIET
                received = _read_bars(bars_ws_url(url), indexer, quiet_at)
                summary = bot.summary()
            finally:
                bot.stop()
    finally:
        runtime().stop()
        indexer.stop()
    cut = root / "cut"
    inputs = cut / "input.jsonl"
    outputs = cut / "output.jsonl"
    kept, _ = write_filtered(session, inputs, Query(url=indexer.ws_url))
    assert kept["ws"] == 1, f"the bot's feed was not recorded: {kept}"
    kept, _ = write_filtered(session, outputs, Query(url="/ws/bars/"))
    # websockets reads the proxy variables from version 15 on
    assert kept["ws"] == 1, f"the bar client did not go through the proxy: {kept}"
    return LiveSession(session, inputs, outputs, received, summary)


@pytest.fixture(scope="module")
def live_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSession]:
    """One live run per module (about 10 s), shared by the parity and dashboard tests."""
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    root = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMREPLAY_CACHE_DIR", str(root / "ca"))  # the proxy's CA, not in $HOME
        yield record_live_session(root / "cassettes")


# -- the replay side -----------------------------------------------------------------------------


def replay_bar_messages(
    cassette: Path, market: str = MARKET, resolution: str = RESOLUTION
) -> tuple[list[Message], Pipeline]:
    """Replay ``cassette`` on virtual time through the bot's pipeline into a :class:`BarHub`,
    and return what a subscriber of ``market``/``resolution`` there received from the start,
    with the pipeline (for its bar engine and summary)."""
    config = bot_config((market,))
    hub = BarHub(config.resolutions, markets=(market,))

    def run() -> Pipeline:
        try:
            return replay([cassette], config=config, taps=[hub.observe], time_scale=MARKET_SPEED)
        finally:
            hub.close()

    async def subscribe_and_replay() -> tuple[list[Message], Pipeline]:
        sub = hub.subscribe(market, resolution)
        pipeline = await asyncio.to_thread(run)
        messages = list(sub.initial)
        while (message := await asyncio.wait_for(sub.get(), 10)) is not None:
            messages.append(message)
        return messages, pipeline

    # on its own thread: a browser test's sync Playwright keeps an event loop running on this
    # one for the rest of the module
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, subscribe_and_replay()).result()


def subscriber_view(stream: list[Message], joined: int) -> list[Message]:
    """What a client subscribing after the first ``joined`` messages of one market and
    resolution receives: the hub's snapshot (the confirmed bars so far, then the forming bar if
    the last message was one) followed by every later message."""
    before = stream[:joined]
    snapshot = [m for m in before if m["type"] == BAR_CONFIRMED]
    if before and before[-1]["type"] == BAR_FORMING:
        snapshot.append(before[-1])
    return snapshot + stream[joined:]


def align(live: list[Message], replayed: list[Message]) -> tuple[int, list[Message]]:
    """(joined, the replayed stream as that client saw it): the join point whose view equals
    ``live`` (0 when the client was there from the start), else (0, ``replayed``) so a parity
    check reports the first divergence from the whole stream."""
    for joined in range(len(replayed) + 1):
        view = subscriber_view(replayed, joined)
        if view == live:
            return joined, view
    return 0, replayed
