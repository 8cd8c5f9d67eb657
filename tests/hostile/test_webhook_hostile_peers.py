"""The webhook channel against hostile receivers and hostile files: a real TCP server on
loopback answers with canned bytes (a redirect, an endless body, a flood, an echo of the
secrets) and keeps what the channel sent it. Whatever it does, the POST ends within its
deadline, follows no redirect, and no secret or control character is in what is said."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from certkeeper.config.model import WebhookSettings
from certkeeper.names import has_control_chars
from certkeeper.notify.channels.webhook import BadWebhook, Outcome, load, post

TOKEN = "T0KEN-hooks-s3cret"
HEADER_SECRET = "Bearer hdr-s3cret-value"
DEADLINE = 3.0


class Canned:
    """Accepts connections and answers each with `reply(request_bytes)`'s chunks."""

    def __init__(self, reply: Callable[[bytes], Iterator[bytes]]) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        (
                            line.split(b":")[1]
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        b"0",
                    )
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + body)
                for chunk in self.reply(head):
                    conn.sendall(chunk)
            except OSError:
                pass  # the client hung up: the deadline did its work

    def close(self) -> None:
        self.sock.close()


def _files(
    tmp: Path, url: str, headers: str = f"Authorization: {HEADER_SECRET}\n"
) -> WebhookSettings:
    (tmp / "url").write_text(url + "\n")
    (tmp / "headers").write_text(headers)
    for name in ("url", "headers"):
        (tmp / name).chmod(0o600)
    return WebhookSettings(tmp / "url", tmp / "headers", DEADLINE)


def _post(tmp: Path, server: Canned) -> tuple[Outcome, float]:
    where = load(_files(tmp, f"http://127.0.0.1:{server.port}/hooks/{TOKEN}?k={TOKEN}"))
    started = time.monotonic()
    out = post(where, b'{"text": "x"}', DEADLINE)
    return out, time.monotonic() - started


def _said(out: Outcome) -> str:
    return "\n".join([out.detail, *out.transcript])


@pytest.fixture
def other() -> Iterator[Canned]:
    server = Canned(lambda head: iter([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]))
    yield server
    server.close()


def test_a_redirect_to_another_host_is_never_followed_with_the_secrets(
    tmp_path: Path, other: Canned
) -> None:
    def redirect(head: bytes) -> Iterator[bytes]:
        yield (
            f"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:{other.port}/steal\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    server = Canned(redirect)
    out, took = _post(tmp_path, server)
    server.close()
    assert not out.ok and out.permanent and took < DEADLINE
    assert "HTTP 301 Moved from http://127.0.0.1:" in out.detail
    assert other.requests == []  # the secret headers went nowhere else
    assert TOKEN not in _said(out) and "hdr-s3cret" not in _said(out)


@pytest.mark.parametrize(
    "reply",
    [
        # 500 with a chunked body that never ends
        [
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n",
            *([b"1000\r\n" + b"x" * 4096 + b"\r\n"] * 5000),
        ],
        # 200 that promises 10 MB and sends it
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n", *([b"y" * 65536] * 160)],
        # 503 whose reason is 5,000 characters of ESC sequences, then 10 MB of body
        [
            b"HTTP/1.1 503 "
            + b"\x1b[2J\x1b]0;pwn\x07" * 500
            + b"\r\nContent-Length: 10485760\r\n\r\n",
            *([b"\x1b" * 65536] * 160),
        ],
        # 10,000 headers
        [b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 10_000 + b"\r\n"],
    ],
    ids=["endless-chunked-500", "10MB-200", "escape-reason-503", "10k-headers"],
)
def test_a_flooding_receiver_costs_at_most_the_deadline_and_a_short_line(
    tmp_path: Path, reply: list[bytes]
) -> None:
    server = Canned(lambda head: iter(reply))
    out, took = _post(tmp_path, server)
    server.close()
    assert took < DEADLINE + 0.5
    assert len(out.detail) <= 400, out.detail[:500]
    assert TOKEN not in _said(out)


def test_a_receiver_that_echoes_the_secrets_in_its_refusal_is_masked(tmp_path: Path) -> None:
    def echo(head: bytes) -> Iterator[bytes]:
        body = head[:3000]
        yield b"HTTP/1.1 401 Nope\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    server = Canned(echo)
    out, _ = _post(tmp_path, server)
    server.close()
    assert not out.ok and "HTTP 401 Nope" in out.detail
    assert TOKEN not in _said(out) and "hdr-s3cret" not in _said(out), _said(out)
    assert TOKEN.encode() in server.requests[0]  # it did get them: the masking held


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1/{TOKEN}\r\nX-Injected: 1",
        f"http://127.0.0.1/{TOKEN}\nhttp://evil.test/",
        f"file:///etc/shadow?{TOKEN}",
        f"javascript:alert('{TOKEN}')",
        f"gopher://127.0.0.1:70/{TOKEN}",
        f"http://127.0.0.1:99999/{TOKEN}",
        f"http://[::1/{TOKEN}",
        f"http:///{TOKEN}",
        f"http://127.0.0.1/{TOKEN}\x1b[2J",
        f"http://127.0.0.1/\u202e{TOKEN}",
    ],
    ids=["crlf", "lf", "file", "javascript", "gopher", "port", "bracket", "nohost", "esc", "rlo"],
)
def test_a_url_file_that_is_no_plain_http_url_is_refused_without_showing_it(
    tmp_path: Path, url: str
) -> None:
    with pytest.raises(BadWebhook) as caught:
        load(_files(tmp_path, url))
    said = str(caught.value)
    assert TOKEN not in said and not has_control_chars(said), said
    assert said.startswith(f"the url_file {tmp_path / 'url'}: expected")


@pytest.mark.parametrize(
    "headers",
    [
        "X-A: b\r\nHost: evil.test\n",
        "X-A: b\rContent-Length: 0\n",
        "X-A: b\x00c\n",
        "X-A: b\x85Transfer-Encoding: chunked\n",
        "X-A\r\n: b\n",
        "Bad Name: b\n",
    ],
    ids=["crlf-host", "cr-length", "nul", "nel", "name-crlf", "space-name"],
)
def test_a_headers_file_cannot_smuggle_a_header_or_a_line(tmp_path: Path, headers: str) -> None:
    with pytest.raises(BadWebhook) as caught:
        load(_files(tmp_path, f"http://127.0.0.1/{TOKEN}", headers))
    said = str(caught.value)
    assert TOKEN not in said and not has_control_chars(said), said


def test_extra_headers_reach_the_wire_as_written_and_nothing_else(tmp_path: Path) -> None:
    server = Canned(lambda head: iter([b"HTTP/1.1 204 No Content\r\n\r\n"]))
    where = load(
        _files(
            tmp_path,
            f"http://127.0.0.1:{server.port}/h/{TOKEN}",
            "X-One: 1\r\nX-Two: 2\n# X-Three: 3\n",
        )
    )
    out = post(where, b"{}", DEADLINE)
    server.close()
    assert out.ok, out.detail
    lines = server.requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert lines[0] == f"POST /h/{TOKEN} HTTP/1.1".encode()
    names = sorted(line.split(b":")[0].lower() for line in lines[1:])
    assert names == [
        b"accept-encoding",
        b"content-length",
        b"content-type",
        b"host",
        b"user-agent",
        b"x-one",
        b"x-two",
    ]
