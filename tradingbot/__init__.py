"""tradingbot: a dYdX v4 perpetuals bot built and tested on replayed streams."""

__version__ = "0.1.0"
