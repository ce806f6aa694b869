"""A thread-safe collector for items a feed delivers on its own IO thread; waits are bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Recorder:
    def __init__(self, timeout: float = 20.0) -> None:
        self.items: list[Any] = []
        self.timeout = timeout
        self._cond = threading.Condition()

    def __call__(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_value(
        self, predicate: Callable[[list[Any]], Any], timeout: float | None = None
    ) -> Any:
        """Wait until ``predicate(items)`` is truthy and return what it returned."""
        timeout = self.timeout if timeout is None else timeout
        with self._cond:
            result: Any = None

            def check() -> bool:
                nonlocal result
                result = predicate(self.items)
                return bool(result)

            if not self._cond.wait_for(check, timeout):
                raise AssertionError(f"condition not met in {timeout}s; last: {self.items[-8:]}")
            return result

    def wait_for(
        self, predicate: Callable[[list[Any]], object], timeout: float | None = None
    ) -> list[Any]:
        """Wait until ``predicate(items)`` is truthy and return the items so far."""
        self.wait_value(predicate, timeout)
        return self.snapshot()

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self.items)
