"""Bounded history: the market layer keeps recent bars and issues without growing forever."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar, overload

__all__ = ["RingBuffer"]

T = TypeVar("T")


class RingBuffer(Generic[T]):
    """Fixed-capacity FIFO: appending to a full buffer drops the oldest item.

    Indexing follows age: ``[0]`` is the oldest kept item, ``[-1]`` the newest.
    ``dropped`` counts evictions so a consumer can tell that history was cut.
    """

    __slots__ = ("_items", "dropped")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._items: deque[T] = deque(maxlen=capacity)
        self.dropped = 0

    @property
    def capacity(self) -> int:
        maxlen = self._items.maxlen
        assert maxlen is not None
        return maxlen

    def append(self, item: T) -> None:
        if len(self._items) == self.capacity:
            self.dropped += 1
        self._items.append(item)

    def replace_last(self, item: T) -> None:
        """Overwrite the newest item (a forming bar updated in place)."""
        if not self._items:
            raise IndexError("replace_last on an empty buffer")
        self._items[-1] = item

    def last(self, n: int) -> list[T]:
        """The newest ``n`` items, oldest first."""
        if n <= 0:
            return []
        return list(self._items)[-n:]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return list(self._items)[index]
        return self._items[index]

    def __repr__(self) -> str:
        return f"RingBuffer({list(self._items)!r}, capacity={self.capacity})"
