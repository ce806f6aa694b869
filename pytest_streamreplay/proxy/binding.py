"""Which cassette session the running proxy serves: one slot, swapped per test."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..session import CassetteSession

__all__ = ["SessionBinding"]


@dataclass
class SessionBinding:
    """Shared by every addon. Swapping is a single attribute store, atomic under the GIL; the
    lock only keeps bind/unbind pairs from interleaving."""

    session: CassetteSession | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bind(self, session: CassetteSession) -> None:
        with self._lock:
            self.session = session

    def unbind(self, session: CassetteSession) -> None:
        with self._lock:
            if self.session is session:
                self.session = None
