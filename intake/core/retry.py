"""Every wait before trying again, from one rule (tenacity's exponential wait): the first wait,
then twice as long each time, up to the longest. Used where the next try is in another run
(a mail deferred by the server, a poll that failed) as well as within one."""

from __future__ import annotations

from tenacity import RetryCallState, wait_exponential


def backoff_seconds(attempt: int, first: float, longest: float) -> float:
    """The wait after the ``attempt``-th failure (from 1): ``first``, 2×, 4×… at most ``longest``."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempt)
    return float(wait_exponential(multiplier=first, exp_base=2, max=longest)(state))
