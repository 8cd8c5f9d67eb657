"""The pieces of what a person reads: ASCII marks where a stream cannot encode ours,
colour only for a terminal, and the CA's reason picked out of certbot's output."""

from __future__ import annotations

import io
import os
import pty
from datetime import UTC, datetime

from certkeeper import render, terminal
from certkeeper.notify.events import Failed
from certkeeper.outcomes import Acted


def test_our_marks_become_ascii_words_where_the_stream_cannot_encode_them() -> None:
    text = "\u2713 DNS: ok \u2192 fine; \u2717 nginx \u2013 bad; caf\u00e9 \u4e2d"
    assert terminal.for_stream(text, "utf-8") == text
    assert (
        terminal.for_stream(text, "latin-1")
        == "ok DNS: ok -> fine; FAIL nginx - bad; caf\u00e9 \\u4e2d"
    )
    assert (
        terminal.for_stream(text, "ascii")
        == "ok DNS: ok -> fine; FAIL nginx - bad; caf\\xe9 \\u4e2d"
    )
    assert terminal.for_stream("\u2713", "no-such-codec") == "ok"


def test_colour_only_on_a_terminal_without_no_color_or_a_dumb_term() -> None:
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            assert terminal.colour_wanted(tty, {"TERM": "xterm"})
            assert not terminal.colour_wanted(tty, {"TERM": "xterm", "NO_COLOR": ""})
            assert not terminal.colour_wanted(tty, {"TERM": "xterm", "NO_COLOR": "0"})
            assert not terminal.colour_wanted(tty, {"TERM": "dumb"})
    finally:
        os.close(leader)
        os.close(follower)
    assert not terminal.colour_wanted(io.StringIO(), {"TERM": "xterm"})


def test_the_cas_reason_is_picked_out_of_certbots_output() -> None:
    nxdomain = (
        "Certbot failed to authenticate some domains (authenticator: webroot).\n"
        "  Domain: shop.example.com\n  Type:   dns\n"
        "  Detail: DNS problem: NXDOMAIN looking up A for shop.example.com\n"
    )
    assert render.failure_cause(nxdomain) == (
        "DNS problem: NXDOMAIN looking up A for shop.example.com"
    )
    limited = (
        "An unexpected error occurred:\n"
        "Error creating new order :: too many certificates (5) already issued for this exact "
        "set of identifiers in the last 168h0m0s\n"
    )
    assert render.failure_cause(limited).startswith(
        "rate limit: Error creating new order :: too many certificates (5)"
    )
    assert render.failure_cause("certbot exited with code 1\n") == ""
    full = (
        "An unexpected error occurred:\n"
        "OSError: [Errno 28] No space left on device: '/etc/letsencrypt/archive/shop/cert2.pem'\n"
    )
    assert render.failure_cause(full) == (
        "[Errno 28] No space left on device: '/etc/letsencrypt/archive/shop/cert2.pem'"
    )
    assert len(render.failure_cause("Detail: " + "x" * 5000)) == render.CAUSE_LIMIT


def test_a_cause_already_in_the_first_line_is_not_said_twice() -> None:
    """A symlink write's own OSError is both the first line and the host's error: the
    ERROR line says it once."""
    at = datetime(2026, 12, 7, tzinfo=UTC)
    output = "cannot write /etc/nginx/certs: [Errno 28] No space left on device: '/x/shop.key'"
    failed = Failed("shop", ("shop.example.com",), at, at, "symlinks", output)
    assert render.check_line(Acted(failed)) == f"shop: symlinks failed: {output}"
    certbot = Failed(
        "shop", ("shop.example.com",), at, at, "certbot", "Saving debug log\n" + output
    )
    assert render.check_line(Acted(certbot)) == (
        "shop: certbot failed: Saving debug log: [Errno 28] No space left on device: '/x/shop.key'"
    )
