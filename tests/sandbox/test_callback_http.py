"""The sandbox's callback client against receivers that answer in every way HTTP allows:
a merchant's callback must be delivered (and its status read right) whatever its server
does with bodies and connections."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sandbox.callback_http import CallbackClient, CallbackHTTPError

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Runs the coroutine on an event loop of its own thread: the browser tests' Playwright
    keeps a loop running in the test thread for the rest of the session."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def _with_receiver(answer: Answer, urls: Callable[[int], list[str]]) -> dict:
    """Sends a GET to each URL in turn with one client; returns the statuses (or errors),
    the request lines the receiver saw and how many connections it accepted."""
    seen: list[str] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head.split(b"\r\n", 1)[0].decode())
                if not await answer(reader, writer, len(seen)):
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = CallbackClient()
    results: list[int | str] = []
    try:
        for url in urls(port):
            try:
                results.append(await client.get(url))
            except CallbackHTTPError as error:
                results.append(str(error))
            await asyncio.sleep(0.01)  # lets the receiver's close arrive, as between callbacks
    finally:
        await client.aclose()
        server.close()
    return {"results": results, "seen": seen, "connections": connections}


def _urls(count: int) -> Callable[[int], list[str]]:
    return lambda port: [
        f"http://127.0.0.1:{port}/cb/token?payment_reference=p{n}&event_name=status_updated"
        for n in range(count)
    ]


def test_chunked_and_sized_bodies_are_read_past_so_the_next_status_is_right() -> None:
    async def answer(_reader, writer, number: int) -> bool:
        if number % 2:
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                b"5;x=1\r\nHTTP/\r\n3\r\n1.1\r\n0\r\nx-trailer: 1\r\n\r\n"
            )
        else:
            writer.write(b"HTTP/1.1 503 Busy\r\ncontent-length: 17\r\n\r\nHTTP/1.1 200 OK\r\n")
        await writer.drain()
        return True

    outcome = _run(_with_receiver(answer, _urls(4)))

    assert outcome["results"] == [200, 503, 200, 503]
    assert outcome["connections"] == 1
    assert outcome["seen"][0] == (
        "GET /cb/token?payment_reference=p0&event_name=status_updated HTTP/1.1"
    )


def test_a_receiver_closing_its_connections_still_gets_every_callback() -> None:
    async def answer(_reader, writer, number: int) -> bool:
        if number == 1:  # says nothing, then closes, as an idle keep-alive timeout does
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            return False
        writer.write(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
        await writer.drain()
        return False

    outcome = _run(_with_receiver(answer, _urls(3)))

    assert outcome["results"] == [200, 204, 204]
    assert outcome["connections"] == 3


def test_a_body_without_length_ends_with_the_connection() -> None:
    async def answer(_reader, writer, _number: int) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nthanks")
        await writer.drain()
        return False

    outcome = _run(_with_receiver(answer, _urls(2)))

    assert outcome["results"] == [200, 200]
    assert outcome["connections"] == 2


def test_a_garbled_answer_is_a_failed_attempt_not_a_crash() -> None:
    async def answer(_reader, writer, _number: int) -> bool:
        writer.write(b"200 fine thanks\r\n\r\n")
        await writer.drain()
        return False

    outcome = _run(_with_receiver(answer, _urls(1)))

    assert outcome["results"][0].startswith("RemoteProtocolError")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("ftp://127.0.0.1/cb", "UnsupportedProtocol"),
        ("http:///cb", "InvalidURL"),
        ("http://127.0.0.1:99999/cb", "InvalidURL"),
        ("http://127.0.0.1/cb/ä", "InvalidURL"),
    ],
)
def test_urls_no_request_can_be_made_for_are_refused(url: str, kind: str) -> None:
    with pytest.raises(CallbackHTTPError) as refused:
        _run(CallbackClient().get(url))

    assert refused.value.kind == kind


def test_an_unreachable_receiver_is_a_connect_error() -> None:
    async def closed_port() -> int:
        server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return port

    port = _run(closed_port())
    with pytest.raises(CallbackHTTPError) as refused:
        _run(CallbackClient().get(f"http://127.0.0.1:{port}/cb"))

    assert refused.value.kind == "ConnectError"
