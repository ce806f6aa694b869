"""The quick start, as a user writes it: no proxy code, any client, even a subprocess."""

import os
import subprocess

import httpx
import pytest
import requests


@pytest.mark.streamreplay
def test_markets():
    base = os.environ["DEMO_API"]
    markets = httpx.get(f"{base}/v4/perpetualMarkets").json()["markets"]
    assert "BTC-USD" in markets


@pytest.mark.streamreplay
def test_orderbook_with_requests_and_curl():
    base = os.environ["DEMO_API"]
    book = requests.get(f"{base}/v4/orderbooks/perpetualMarket/BTC-USD").json()
    via_curl = subprocess.run(["curl", "-sS", f"{base}/v4/orderbooks/perpetualMarket/BTC-USD"],
                              capture_output=True, check=True).stdout
    assert book["bids"] and via_curl.startswith(b"{")
