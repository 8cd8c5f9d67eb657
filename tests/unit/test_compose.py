"""The notices, line by line against the team guide, and header injection made impossible."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.policy import default

import pytest

from certkeeper.notify.compose import (
    Expiring,
    Failed,
    Reloaded,
    Renewed,
    compose,
    event_id,
)

AT = datetime(2025, 11, 9, 20, 58, 29, tzinfo=UTC)
DOMAINS = ("foxycart-sandbox.tokenoftrust.com", "foxycart-sandbox3.tokenoftrust.com")


def parse(event: object, **kw: str) -> email.message.EmailMessage:
    args = {
        "hostname": "foxycart-sandbox3",
        "sender": "operations@tokenoftrust.com",
        "to": "board+x@boards.trello.com",
    }
    args.update(kw)
    raw = compose(event, **args).as_bytes()  # type: ignore[arg-type]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # SMTP line endings only
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_success_notice_matches_the_guide() -> None:
    event = Renewed(
        "foxycart-sandbox",
        DOMAINS,
        AT,
        previous_expiry=AT + timedelta(days=12, hours=3),
        new_expiry=AT + timedelta(days=90),
        new_not_before=AT - timedelta(hours=1),
    )
    msg = parse(event)
    assert msg["Subject"] == (
        "[SUCCESS] foxycart-sandbox3 \u2013 Cert renewed for foxycart-sandbox.tokenoftrust.com"
    )
    raw_subject = msg.get_all("Subject")
    assert raw_subject is not None
    body = msg.get_content()
    assert body.splitlines() == [
        "Certificate for foxycart-sandbox.tokenoftrust.com renewed successfully.",
        "Previous expiry: 2025-11-21 23:58 UTC (12 days remaining)",
        "New expiry: 2026-02-07 20:58 UTC (~90 days)",
        "Cert name: foxycart-sandbox",
        "Renewed at: 2025-11-09T20:58:29Z",
        "Nginx has been reloaded with the new certificate.",
        "",
        "Domains covered: foxycart-sandbox.tokenoftrust.com, foxycart-sandbox3.tokenoftrust.com",
        "",
        "Action Required: None. This is a success confirmation.",
    ]


def test_headers_are_exactly_the_promised_ones_and_subject_is_rfc2047() -> None:
    event = Renewed("foxycart-sandbox", DOMAINS, AT, None, AT + timedelta(days=90), AT)
    raw = compose(event, hostname="app3", sender="ops@example.com", to="b@example.com").as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # all-ASCII proves the encoding
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] != " "]
    assert sorted(names) == sorted(
        [
            "Subject",
            "From",
            "To",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        ]
    )
    assert "=?utf-8?" in head
    assert 'charset="utf-8"' in head and "text/plain" in head
    assert f"<{event_id(event)}@app3.certkeeper>" in head


def test_first_issuance_says_issued() -> None:
    event = Renewed("shop", ("shop.example.com",), AT, None, AT + timedelta(days=90), AT)
    msg = parse(event)
    assert msg["Subject"] == "[SUCCESS] foxycart-sandbox3 \u2013 Cert issued for shop.example.com"
    assert msg.get_content().splitlines()[:2] == [
        "Certificate for shop.example.com issued successfully.",
        "Previous expiry: none (first issuance)",
    ]


def test_error_notice_carries_step_output_and_the_guide_checklist() -> None:
    output = "\n".join(f"line {i}" for i in range(100)) + "\nSome challenges have failed."
    event = Failed(
        "foxycart-sandbox",
        DOMAINS,
        AT,
        current_expiry=AT + timedelta(days=5, hours=1),
        step="certbot",
        output=output,
        webroot="/var/www/letsencrypt",
        notes=("rate limited",),
    )
    msg = parse(event)
    assert msg["Subject"] == (
        "[ERROR] foxycart-sandbox3 \u2013 Cert renewal FAILED for foxycart-sandbox.tokenoftrust.com"
    )
    lines = msg.get_content().splitlines()
    assert lines[:5] == [
        "Certificate renewal for foxycart-sandbox.tokenoftrust.com FAILED.",
        "Current expiry: 2025-11-14 21:58 UTC (5 days remaining)",
        "Cert name: foxycart-sandbox",
        "Renewal attempted at: 2025-11-09T20:58:29Z",
        "Failed step: certbot",
    ]
    assert "Note: rate limited" in lines
    start = lines.index("Error output:") + 1
    end = lines.index("Manual intervention required. Check:")
    shown = lines[start : end - 1]
    assert len(shown) == 60 and shown[-1] == "Some challenges have failed."
    assert lines[end : end + 13] == [
        "Manual intervention required. Check:",
        "First: sudo certkeeper doctor foxycart-sandbox",
        "1. Nginx is serving /.well-known/acme-challenge/ from /var/www/letsencrypt",
        "2. DNS correctly points to this server",
        "3. Port 80 is accessible externally",
        "4. Certbot logs: /var/log/letsencrypt/letsencrypt.log",
        "",
        "Troubleshooting commands:",
        "curl -I http://foxycart-sandbox.tokenoftrust.com/.well-known/acme-challenge/",
        "nginx -t",
        "certbot certificates",
        "tail -100 /var/log/letsencrypt/letsencrypt.log",
        "certbot renew --cert-name foxycart-sandbox --dry-run",
    ]
    assert "Nginx has been reloaded" not in msg.get_content()


def test_warning_notice_subject() -> None:
    event = Expiring(
        "partner",
        ("partner.example.com",),
        AT,
        AT + timedelta(days=7, hours=2),
        7,
        monitor_only=True,
    )
    msg = parse(event)
    assert msg["Subject"] == "[WARNING] foxycart-sandbox3 \u2013 Certificate expires in 7 days"
    body = msg.get_content()
    assert "Action Required: Manual renewal needed (see Manual Certificate Hosts)" in body
    # A warning is identified by what it warns of: the expiry and the threshold.
    assert event_id(event) == "partner.warning7.20251116T225829Z"


def test_reloaded_notice() -> None:
    event = Reloaded("shop", ("shop.example.com",), AT, ("1a2b",), AT + timedelta(days=80))
    msg = parse(event)
    assert (
        msg["Subject"] == "[SUCCESS] foxycart-sandbox3 \u2013 Nginx reloaded for shop.example.com"
    )
    assert "Stale serial(s) served: 1a2b" in msg.get_content()


@pytest.mark.parametrize("field", ["hostname", "sender", "to"])
def test_header_injection_is_impossible(field: str) -> None:
    event = Renewed("shop", ("shop.example.com",), AT, None, AT + timedelta(days=90), AT)
    args = {"hostname": "app3", "sender": "ops@example.com", "to": "b@example.com"}
    args[field] = args[field] + "\r\nBcc: everyone@example.com"
    with pytest.raises(ValueError):
        compose(event, **args)


def test_a_hostname_the_email_parser_chokes_on_is_a_value_error() -> None:
    # CPython 3.11's Message-ID parser raises AttributeError for a host of "[" (found by
    # hypothesis); compose promises ValueError and nothing else.
    event = Failed("shop", ("shop.example.com",), AT, AT, "certbot", "out")
    with pytest.raises(ValueError, match="not a valid header value"):
        compose(event, hostname="[", sender="certkeeper@example.com", to="board@example.com")
