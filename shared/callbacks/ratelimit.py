"""Intake's admission control: token buckets per client address and per Callback URL, and
the count of requests to unknown URLs.

Everything here lives in the memory of one callback service process and costs a few
dictionary operations per request, before any database work: a flood is turned away
without touching the database. Two service processes behind one address each admit the
configured rates (the limits are per process).

The defaults let EveryPay's real traffic through untouched (it sends one callback per
payment event; 500/s per URL and per address is far above that and above the 200/s the
benchmarks sustain), while requests to URLs that do not exist, which only a mistake or an
attacker sends, are limited to about one per second per address. Requests to unknown URLs
are not stored (that was a way to fill the disk): they are counted here and reported in
one log line per minute at most, because a row per request, or even a periodic row, would
make an unauthenticated client's traffic a database write again, and the log is where an
operator looks for a mis-pasted Callback URL or an attack.
"""

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.config import Settings

log = logging.getLogger(__name__)

# Bounds the memory of every per-key table: past this many keys the least recently used
# one is forgotten (an address with a full bucket, most likely).
MAX_KEYS = 10_000
# Callback URLs recently seen valid; a deployment has a handful of channels.
MAX_KNOWN_TOKENS = 1_000
REPORT_INTERVAL_SECONDS = 60.0
# Addresses named in one report line.
REPORT_TOP = 3


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up.

    Not thread-safe: the service calls it from its event loop only.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def take(self, key: str) -> float:
        """Spends one token; 0 when there was one, else the seconds until there will be
        (nothing is spent then)."""
        if not self.enabled:
            return 0.0
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def wait(self, key: str) -> float:
        """The seconds until ``key`` has a token, spending nothing."""
        if not self.enabled:
            return 0.0
        tokens = self._refilled(key).tokens
        return 0.0 if tokens >= 1 else (1 - tokens) / self._rate

    def charge(self, key: str) -> None:
        """Spends one token even when there is none: the cost of something that was let
        through before it was known to be costly. The debt is bounded by one burst."""
        if self.enabled:
            bucket = self._refilled(key)
            bucket.tokens = max(bucket.tokens - 1, -self._burst)

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
        return bucket


@dataclass(frozen=True)
class Refusal:
    http_status: int
    retry_after_seconds: int
    body: dict[str, str]


def _too_many(wait: float, what: str) -> Refusal:
    return Refusal(
        429,
        max(math.ceil(wait), 1),
        {"status": "refused", "error": f"too many requests {what}; try again later"},
    )


class IntakeGuard:
    """Decides in memory whether a callback request may reach the database."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._per_address = TokenBuckets(
            rate=settings.callback_ip_rate, burst=settings.callback_ip_burst, clock=clock
        )
        self._per_url = TokenBuckets(
            rate=settings.callback_url_rate, burst=settings.callback_url_burst, clock=clock
        )
        self._unknown_per_address = TokenBuckets(
            rate=settings.callback_unknown_rate, burst=settings.callback_unknown_burst, clock=clock
        )
        # URLs seen valid lately: an address that also sends unknown ones (EveryPay calling
        # a channel's URL that was rotated long ago, say) keeps reaching the valid ones.
        self._known_tokens: OrderedDict[str, None] = OrderedDict()
        self.counts = RefusalCounts(clock=clock)

    def admit(self, *, token: str, address: str) -> Refusal | None:
        """None when the request may go on to intake."""
        wait = self._per_address.take(address)
        if wait:
            return self._refuse(address, _too_many(wait, "from this address"))
        if token not in self._known_tokens:
            wait = self._unknown_per_address.wait(address)
            if wait:
                return self._refuse(address, _too_many(wait, "to unknown Callback URLs"))
        wait = self._per_url.take(token)
        if wait:
            return self._refuse(address, _too_many(wait, "to this Callback URL"))
        return None

    def record(self, *, token: str, address: str, unknown_url: bool) -> None:
        """What intake found out about the URL (after the database told it)."""
        if unknown_url:
            self._known_tokens.pop(token, None)
            self._unknown_per_address.charge(address)
            self.counts.add(address, unknown_url=True)
            return
        if token in self._known_tokens:
            self._known_tokens.move_to_end(token)
            return
        self._known_tokens[token] = None
        if len(self._known_tokens) > MAX_KNOWN_TOKENS:
            self._known_tokens.popitem(last=False)

    def _refuse(self, address: str, refusal: Refusal) -> Refusal:
        self.counts.add(address, unknown_url=False)
        return refusal


class RefusalCounts:
    """Requests to unknown URLs (404) and over a limit (429), per process, reported as
    one log line when the first one arrives and then at most once a minute."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._next_report = clock()
        self.unknown_url_total = 0
        self.limited_total = 0
        self._unknown_url = 0
        self._limited = 0
        self._by_address: dict[str, int] = {}

    def add(self, address: str, *, unknown_url: bool) -> None:
        if unknown_url:
            self.unknown_url_total += 1
            self._unknown_url += 1
        else:
            self.limited_total += 1
            self._limited += 1
        if address in self._by_address or len(self._by_address) < MAX_KEYS:
            self._by_address[address] = self._by_address.get(address, 0) + 1
        if self._clock() >= self._next_report:
            self.report()

    def report(self) -> None:
        """Logs what was counted since the last report (if anything) and starts anew."""
        self._next_report = self._clock() + REPORT_INTERVAL_SECONDS
        if not (self._unknown_url or self._limited):
            return
        top = sorted(self._by_address.items(), key=lambda item: -item[1])[:REPORT_TOP]
        log.warning(
            "callback intake turned away: unknown Callback URL (404, not stored) %s, over a "
            "rate limit (429) %s; addresses %s, most from %s",
            self._unknown_url,
            self._limited,
            len(self._by_address),
            ", ".join(f"{address} ({count})" for address, count in top),
        )
        self._unknown_url = self._limited = 0
        self._by_address = {}
