"""The bot's run: configuration (:mod:`.config`), the fused chain (:mod:`.chain`), the summary
(:mod:`.summary`) and the replay and live drivers (:mod:`.drivers`).

The layers' rules live in their own packages (market state in ``tradingbot.market``, the
layer steps in ``tradingbot.signals``/``strategy``/``execution``, cassette decoding in
``tradingbot.feeds.cassette``); the names are re-exported here for existing imports.
"""

from __future__ import annotations

from tradingbot.feeds.cassette import cassette_duration_ms, cassette_start, decode_stage
from tradingbot.market.state import MarketState, market_stage
from tradingbot.signals.stage import signal_stage

from .chain import LatencyRecorder, Pipeline
from .config import DEV_SIGNALS, EXCHANGE_CLOCK_CONFIRM_DELAY, PipelineConfig
from .drivers import Progress, replay, run_live
from .summary import peak_rss_mb, summary

__all__ = [
    "DEV_SIGNALS",
    "EXCHANGE_CLOCK_CONFIRM_DELAY",
    "LatencyRecorder",
    "MarketState",
    "Pipeline",
    "PipelineConfig",
    "Progress",
    "cassette_duration_ms",
    "cassette_start",
    "decode_stage",
    "market_stage",
    "peak_rss_mb",
    "replay",
    "run_live",
    "signal_stage",
    "summary",
]
