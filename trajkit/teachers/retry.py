"""Retries with exponential backoff and jitter, honouring the server's Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

# 408 request timeout, 409 conflict (OpenAI's lock contention), 425 too early, 429 rate limit
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
MAX_RETRY_AFTER_S = 120.0  # a server asking for longer than this is treated as down


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6  # attempts = max_retries + 1
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def backoff(self, retry_index: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `retry_index` (0-based): exponential, half of it jittered,
        so that many clients failing together do not come back together."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**retry_index))
        rng = rng or random
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def delay(
        self, retry_index: int, retry_after_s: float | None, rng: random.Random | None = None
    ) -> float:
        """The server's Retry-After wins when it gave one; backoff otherwise."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), MAX_RETRY_AFTER_S)
        return self.backoff(retry_index, rng)


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)
