"""The search's clock: its time budget, the user's Cancel, and progress with an ETA.

Every long step (calibration, builds, fine-tuning, sensitivity, timing) asks the clock before each
unit of work; when the budget is spent or the user cancelled, the step stops early and the search
recommends from what was measured. Steps that must run to give any answer at all (the original's
timing, a first candidate) are *reserved* a share of the budget up front.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Cancelled", "Clock"]


class Cancelled(Exception):
    """The user cancelled the search (raised only where nothing useful can be returned yet)."""


class Clock:
    """Wall-clock budget of one search, with an optional cancel event.

    Example::

        >>> clock = Clock(10.0)
        >>> clock.left() > 9.9, clock.expired(), clock.spent(0.5)
        (True, False, False)
        >>> clock.cancel.set(); clock.expired()
        True
    """

    def __init__(
        self, budget_s: float, cancel: threading.Event | None = None, now: Callable[[], float] = time.monotonic
    ):
        self.budget = budget_s
        self.cancel = cancel if cancel is not None else threading.Event()
        self._now = now
        self.start = now()

    def elapsed(self) -> float:
        """Seconds since the search started."""
        return self._now() - self.start

    def left(self) -> float:
        """Seconds left of the budget (negative once it is spent)."""
        return self.budget - self.elapsed()

    def cancelled(self) -> bool:
        """Whether the user asked to stop."""
        return self.cancel.is_set()

    def expired(self) -> bool:
        """Whether to stop now: the budget is spent or the user cancelled."""
        return self.cancelled() or self.left() <= 0

    def spent(self, fraction: float) -> bool:
        """Whether ``fraction`` of the budget has gone (a step's own share), or the search must stop."""
        return self.cancelled() or self.elapsed() >= fraction * self.budget

    def can_afford(self, seconds: float, reserve: float = 0.0) -> bool:
        """Whether ``seconds`` more of work fit before the budget, keeping ``reserve`` seconds for later steps."""
        return not self.cancelled() and self.left() - reserve >= seconds
