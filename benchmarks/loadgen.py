"""A small HTTP/1.1 load generator on raw asyncio sockets, run as its own process.

Two modes, both bounded in time and aimed only at 127.0.0.1:

- ``--rate R``: open loop. Request *i* is due at ``start + i / R`` whatever happened to the
  earlier ones, and its latency is counted from that due time, so a stalled server shows
  up as latency instead of silently lowering the offered load (no coordinated omission).
- ``--concurrency C``: closed loop for maximum throughput. C keep-alive connections each
  send the next request as soon as the previous answer arrived.

Each request asks for ``--path`` with ``{ref}`` replaced by 64 fresh hex characters (an
EveryPay payment reference) and ``{i}`` by the request's number. The summary (counts,
throughput, latency percentiles in ms) is printed as JSON on stdout.

Usage: ``python -m benchmarks.loadgen --port 8000 --path '/cb?payment_reference={ref}'
--rate 200 --duration 60``
"""

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field

MAX_CONNECTIONS = 256
REQUEST_TIMEOUT = 30.0


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, host_header: str, path: str) -> tuple[int, bool]:
        """(status, keep-alive) of one GET on this connection."""
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: linkpay-bench\r\n"
            "Accept: */*\r\n\r\n".encode("ascii")
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        length = 0
        marker = headers.find(b"content-length:")
        if marker >= 0:
            length = int(headers[marker + 15 : headers.find(b"\r\n", marker)].strip())
        if length:
            await self.reader.readexactly(length)
        return status, b"connection: close" not in headers

    def close(self) -> None:
        self.writer.close()


class Client:
    """A pool of keep-alive connections to one host."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.host_header = f"{host}:{port}"
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def get(self, path: str) -> int:
        async with self.slots:
            reused = bool(self.idle)
            connection = self.idle.pop() if reused else await Connection.open(self.host, self.port)
            try:
                status, keep = await self._send(connection, path)
            except (asyncio.IncompleteReadError, ConnectionResetError):
                if not reused:
                    raise
                # The server closed this idle keep-alive connection (uvicorn does after 5 s)
                # just as it was reused: send again on a fresh one, as HTTP clients do.
                connection = await Connection.open(self.host, self.port)
                status, keep = await self._send(connection, path)
            if keep:
                self.idle.append(connection)
            else:
                connection.close()
            return status

    async def _send(self, connection: Connection, path: str) -> tuple[int, bool]:
        try:
            return await asyncio.wait_for(connection.get(self.host_header, path), REQUEST_TIMEOUT)
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


def _path(template: str, number: int) -> str:
    return template.replace("{ref}", os.urandom(32).hex()).replace("{i}", str(number))


async def _one(client: Client, path: str, due: float, tally: Tally) -> None:
    try:
        status = await client.get(path)
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
        tally.errors[type(error).__name__] += 1
        return
    tally.latencies_ms.append((time.perf_counter() - due) * 1000)
    tally.statuses[status] += 1


async def open_loop(client: Client, template: str, rate: float, duration: float) -> Tally:
    tally = Tally()
    tasks = set()
    start = time.perf_counter()
    for number in range(int(rate * duration)):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_one(client, _path(template, number), due, tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT)
    return tally


async def closed_loop(client: Client, template: str, concurrency: int, duration: float) -> Tally:
    tally = Tally()
    deadline = time.perf_counter() + duration
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await _one(client, _path(template, next(counter)), time.perf_counter(), tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def summary(tally: Tally, *, elapsed: float, mode: str, offered: float | None) -> dict:
    ordered = sorted(tally.latencies_ms)

    def pct(p: float) -> float | None:
        if not ordered:
            return None
        return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]

    ok = sum(count for status, count in tally.statuses.items() if 200 <= status < 300)
    return {
        "mode": mode,
        "offered_per_s": offered,
        "elapsed_s": elapsed,
        "completed": len(ordered),
        "ok": ok,
        "statuses": {str(k): v for k, v in tally.statuses.items()},
        "errors": dict(tally.errors),
        "throughput_per_s": ok / elapsed if elapsed else 0.0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": ordered[-1] if ordered else None,
    }


async def run(args: argparse.Namespace) -> dict:
    client = Client("127.0.0.1", args.port)
    started = time.perf_counter()
    if args.rate:
        tally = await open_loop(client, args.path, args.rate, args.duration)
        mode, offered = "open", args.rate
    else:
        tally = await closed_loop(client, args.path, args.concurrency, args.duration)
        mode, offered = "closed", None
    elapsed = time.perf_counter() - started
    client.close()
    return summary(tally, elapsed=elapsed, mode=mode, offered=offered)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="on 127.0.0.1")
    parser.add_argument("--path", required=True, help="path and query; {ref} and {i} filled")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s (open loop)")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (max 600)")
    args = parser.parse_args(argv)
    args.duration = min(args.duration, 600.0)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
