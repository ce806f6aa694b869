import math
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradingbot.signals import SignalInputs, SignalScorer

FULL = SignalInputs(
    price=D("102"),
    ema_fast=D("101"),
    ema_slow=D("100"),
    rsi=D("65"),
    atr=D("2"),
    vwap=D("100"),
    imbalance=D("0.25"),
    volatility=0.5,
)


def test_components_and_contributions_by_hand() -> None:
    score = SignalScorer().score("BTC-USD", FULL)
    # trend tanh((101-100)/2) = tanh(.5); momentum (65-50)/50 = .3
    # mean_reversion -tanh((102-100)/2) = -tanh(1); book .25; weights .4 .2 .2 .2 (sum 1)
    signals = {c.name: c.signal for c in score}
    assert signals == pytest.approx(
        {"trend": math.tanh(0.5), "momentum": 0.3, "mean_reversion": -math.tanh(1), "book": 0.25}
    )
    expected = 0.4 * math.tanh(0.5) + 0.2 * 0.3 - 0.2 * math.tanh(1) + 0.2 * 0.25
    assert score.value == pytest.approx(expected)
    assert sum(score.contributions().values()) == pytest.approx(score.value)
    assert score.contributions()["trend"] == pytest.approx(0.4 * math.tanh(0.5))
    trend = next(c for c in score if c.name == "trend")
    assert trend.inputs == {"ema_fast": "101", "ema_slow": "100", "atr": "2"}
    assert score.ready and score.missing == () and score.damping == 1.0
    text = score.explain()
    assert text.startswith("BTC-USD score +0.") and "momentum=+0.300x0.2->+0.060" in text


def test_missing_inputs_renormalise_weights() -> None:
    # only RSI and book: weights .2 and .2 -> each counts half
    score = SignalScorer().score("ETH-USD", SignalInputs(rsi=D(40), imbalance=D("-0.6")))
    # momentum (40-50)/50 = -.2 ; book -.6 ; (-.2 - .6) / 2 = -.4
    assert score.value == pytest.approx(-0.4)
    assert score.missing == ("trend", "mean_reversion")
    assert "missing trend, mean_reversion" in score.explain()
    empty = SignalScorer().score("X", SignalInputs(atr=D(0), ema_fast=D(1), ema_slow=D(2)))
    assert not empty.ready and empty.value == 0.0
    assert "no inputs" in empty.explain()


def test_volatility_damping() -> None:
    scorer = SignalScorer({"book": 1.0}, volatility_cap=0.25)
    score = scorer.score("X", SignalInputs(imbalance=D("0.8"), volatility=1.0))
    # .8 * (.25 / 1.0) = .2
    assert score.damping == 0.25
    assert score.value == pytest.approx(0.2)
    assert "damping x0.250" in score.explain()
    calm = scorer.score("X", SignalInputs(imbalance=D("0.8"), volatility=0.1))
    assert calm.value == pytest.approx(0.8) and calm.damping == 1.0


def test_weight_validation() -> None:
    with pytest.raises(ValueError):
        SignalScorer({"nonsense": 1.0})
    with pytest.raises(ValueError):
        SignalScorer({"book": -1.0})
    # zero weight drops a component
    assert [c.name for c in SignalScorer({"book": 0.0, "momentum": 1.0}).score("X", FULL)] == [
        "momentum"
    ]


opt = st.none() | st.decimals(D("-1000"), D("1000"), places=2)


@given(
    opt,
    opt,
    opt,
    st.none() | st.decimals(D(0), D(100), places=2),
    st.none() | st.decimals(D("0.01"), D(50), places=2),
    opt,
    st.none() | st.decimals(D(-1), D(1), places=3),
    st.none() | st.floats(0, 10),
)
@settings(deadline=None)
def test_score_always_in_range(
    price: D | None,
    fast: D | None,
    slow: D | None,
    rsi: D | None,
    atr: D | None,
    vwap: D | None,
    imb: D | None,
    vol: float | None,
) -> None:
    inputs = SignalInputs(price, fast, slow, rsi, atr, vwap, imb, vol)
    score = SignalScorer(volatility_cap=1.0).score("X", inputs)
    assert -1.0 <= score.value <= 1.0
    assert all(-1.0 <= c.signal <= 1.0 for c in score)
    assert sum(score.contributions().values()) * score.damping == pytest.approx(score.value)
