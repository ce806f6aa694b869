# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Python 3.12 is the default where present (mitmproxy 12 needs it; on 3.11 only mitmproxy 11 exists,
# whose h11 pin clashes with current httpx/openai/anthropic: see README.md, Install). pyenv's shims
# answer for versions that are installed but not selected, so each candidate is run, not just found.
PY_CANDIDATES := python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3
PY ?= $(firstword $(foreach p,$(PY_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' >/dev/null 2>&1 && echo $(p))))
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

CHROMIUM ?= /usr/bin/chromium

.PHONY: test demo lint type bench clean chromium

# Two distributions from this repository, both editable: the plugin (pyproject.toml) and the bot
# (tradingbot/pyproject.toml, `streamreplay-tradingbot`, all its extras); plus the dev tools
# (the `dev` dependency group, pip >= 25.1).
$(STAMP): pyproject.toml tradingbot/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --group dev -e . -e './tradingbot[all]'
	touch $(STAMP)

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --replay-strict $(PYTEST_ARGS)

# The browser tests use Debian's Chromium (no browser download); they skip where it is absent.
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "make: could not install chromium; the browser tests will be skipped"; \
	else echo "make: no $(CHROMIUM) and no root apt-get to install it; the browser tests will be skipped"; fi

# The bot on the bundled dYdX session (cassettes/dydx/, see docs/cassettes.md): five minutes of
# market time, recorded at 20x, replayed with the dashboard in about 15 s; prints the summary.
demo: $(STAMP)
	$(BIN)/python -m tradingbot.cli replay cassettes/dydx/book_trades_candles.jsonl --speed 20

lint: $(STAMP)
	$(BIN)/ruff check pytest_streamreplay tradingbot tests bench
	$(BIN)/ruff format --check pytest_streamreplay tradingbot tests bench

type: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	for f in bench/bench_*.py; do $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) .tox .mypy_cache .ruff_cache .pytest_cache
