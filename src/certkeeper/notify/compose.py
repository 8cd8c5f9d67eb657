"""Notices exactly as the team guide defines them: a pure function from an event to a message.

Trello's e-mail-to-board turns the subject into the card title and the body
into its description, so the subjects below are a contract with the team.
"""

from __future__ import annotations

from datetime import datetime
from email.errors import MessageError
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from certkeeper.names import has_control_chars
from certkeeper.notify.events import (
    Event,
    Expiring,
    Failed,
    Reloaded,
    Renewed,
    TestNotice,
    event_id,
)
from certkeeper.notify.notice import Notice
from certkeeper.policy import days_left, pause_lead
from certkeeper.times import iso, minute

__all__ = [
    "Event",
    "Expiring",
    "Failed",
    "Reloaded",
    "Renewed",
    "TestNotice",
    "compose",
    "email_message",
    "event_id",
    "notice",
]

DASH = "\u2013"  # the guide's subjects use an en dash
ERROR_OUTPUT_LINES = 60


def date(moment: datetime | None) -> str:
    return f"{minute(moment)} UTC" if moment else "unknown"


def days(until: datetime | None, since: datetime) -> str:
    return "unknown" if until is None else str(days_left(until, since))


def subject(event: Event | TestNotice, hostname: str) -> str:
    if isinstance(event, TestNotice):
        return f"[TEST] {hostname} {DASH} certkeeper notification test"
    domain = event.domains[0]
    match event:
        case Renewed(previous_expiry=None):
            return f"[SUCCESS] {hostname} {DASH} Cert issued for {domain}"
        case Renewed():
            return f"[SUCCESS] {hostname} {DASH} Cert renewed for {domain}"
        case Failed(issuance=True):
            return f"[ERROR] {hostname} {DASH} Cert issuance FAILED for {domain}"
        case Failed():
            return f"[ERROR] {hostname} {DASH} Cert renewal FAILED for {domain}"
        case Expiring():
            return (
                f"[WARNING] {hostname} {DASH} Certificate expires in "
                f"{days(event.expiry, event.at)} days"
            )
        case Reloaded():
            return f"[SUCCESS] {hostname} {DASH} Nginx reloaded for {domain}"
    raise TypeError(f"not an event: {event!r}")  # pragma: no cover


def body(event: Event | TestNotice) -> str:
    match event:
        case TestNotice():
            lines = _test(event)
        case Renewed():
            lines = _renewed(event)
        case Failed():
            lines = _failed(event)
        case Expiring():
            lines = _expiring(event)
        case Reloaded():
            lines = _reloaded(event)
    return "\n".join(lines) + "\n"


def _domains_line(domains: tuple[str, ...]) -> str:
    return "Domains covered: " + ", ".join(domains)


def _notes(notes: tuple[str, ...]) -> list[str]:
    return ["", *(f"Note: {n}" for n in notes)] if notes else []


def _renewed(e: Renewed) -> list[str]:
    domain = e.domains[0]
    lifetime = round((e.new_expiry - e.new_not_before).total_seconds() / 86400)
    if e.previous_expiry is None:
        head = [
            f"Certificate for {domain} issued successfully.",
            "Previous expiry: none (first issuance)",
        ]
    else:
        head = [
            f"Certificate for {domain} renewed successfully.",
            f"Previous expiry: {date(e.previous_expiry)} ({days(e.previous_expiry, e.at)} days "
            "remaining)",
        ]
    return [
        *head,
        f"New expiry: {date(e.new_expiry)} (~{lifetime} days)",
        f"Cert name: {e.cert_name}",
        f"Renewed at: {iso(e.at)}",
        *_served(e),
        "",
        _domains_line(e.domains),
        *_notes(e.notes),
        "",
        _renewed_action(e),
    ]


def _served(e: Renewed) -> list[str]:
    if not e.not_served:
        # Written only for verified reloads: an unverified renewal is an ERROR notice instead.
        return ["Nginx has been reloaded with the new certificate."]
    serving = [d for d in e.domains if not any(n.startswith(f"{d}: ") for n in e.not_served)]
    return [
        "Nginx has been reloaded (nginx -t passed). It serves the new certificate on: "
        + (", ".join(serving) or "none of its names yet"),
        "",
        "Not served with the new certificate yet:",
        *(f"  {line}" for line in e.not_served),
        "",
        "The TLS server block for these names must use:",
        *(f"  {line}" for line in e.server_block),
    ]


def _renewed_action(e: Renewed) -> str:
    if not e.not_served:
        return "Action Required: None. This is a success confirmation."
    return (
        "Action Required: deploy the TLS server block for the names above (the usual Ansible "
        "run); `certkeeper status` shows them as not served until nginx serves this certificate."
    )


def _failed(e: Failed) -> list[str]:
    domain = e.domains[0]
    output = "\n".join(e.output.splitlines()[-ERROR_OUTPUT_LINES:]) or "(the tool printed nothing)"
    if e.issuance:
        head = [
            f"Certificate issuance for {domain} FAILED.",
            "Current expiry: none (first issuance; no certificate of this name exists yet)",
        ]
        attempted = f"Issuance attempted at: {iso(e.at)}"
    else:
        head = [
            f"Certificate renewal for {domain} FAILED.",
            f"Current expiry: {date(e.current_expiry)} "
            f"({days(e.current_expiry, e.at)} days remaining)",
        ]
        attempted = f"Renewal attempted at: {iso(e.at)}"
    return [
        *_paused(e),
        *head,
        f"Cert name: {e.cert_name}",
        attempted,
        f"Failed step: {e.step}",
        _domains_line(e.domains),
        *_notes(e.notes),
        "",
        "Error output:",
        output,
        "",
        *_checklist(e),
        "",
        "Action Required: Immediate investigation (see What To Do When Things Go Wrong)",
    ]


def _checklist(e: Failed) -> list[str]:
    """doctor first (it runs the whole list below and names the fix), then the guide's."""
    domain = e.domains[0]
    return [
        "Manual intervention required. Check:",
        f"First: sudo certkeeper doctor {e.cert_name}",
        f"1. Nginx is serving /.well-known/acme-challenge/ from {e.webroot}",
        "2. DNS correctly points to this server",
        "3. Port 80 is accessible externally",
        f"4. Certbot logs: {e.certbot_log}",
        "",
        "Troubleshooting commands:",
        f"curl -I http://{domain}/.well-known/acme-challenge/",
        "nginx -t",
        "certbot certificates",
        f"tail -100 {e.certbot_log}",
        _certbot_retry(e),
        "certkeeper status --only " + e.cert_name,
    ]


def _certbot_retry(e: Failed) -> str:
    """The certbot command to try by hand: a dry run of what certkeeper ran."""
    if not e.issuance:
        return f"certbot renew --cert-name {e.cert_name} --dry-run"
    names = " ".join(f"-d {d}" for d in e.domains)
    return f"certbot certonly --webroot -w {e.webroot} {names} --cert-name {e.cert_name} --dry-run"


def _paused(e: Failed) -> list[str]:
    """The CA's pause comes before anything else: retrying only deepens it."""
    return [pause_lead(e.unpause_link), ""] if e.ca_paused else []


def _expiring(e: Expiring) -> list[str]:
    domain = e.domains[0]
    left = days(e.expiry, e.at)
    lines = [
        f"Certificate for {domain} expires in {left} days.",
        f"Expiry: {date(e.expiry)}",
        f"Cert name: {e.cert_name}",
        f"Checked at: {iso(e.at)}",
        _domains_line(e.domains),
        "",
    ]
    if e.monitor_only:
        lines.append("This certificate is managed by hand (certbot_enabled: false).")
        lines.append("Action Required: Manual renewal needed (see Manual Certificate Hosts)")
    else:
        lines.append(f"Automatic renewal has failed {e.failures} time(s) in a row.")
        if e.last_error:
            lines.append(f"Last error: {e.last_error}")
        lines.append(
            "Action Required: Immediate investigation: run `certkeeper status` on the host"
        )
    return lines


def _reloaded(e: Reloaded) -> list[str]:
    domain = e.domains[0]
    return [
        f"Nginx was serving an older certificate for {domain} than the one on disk.",
        "The certificate had been renewed but nginx was never reloaded.",
        f"Stale serial(s) served: {', '.join(e.stale_serials)}",
        f"Certificate on disk expires: {date(e.disk_expiry)}",
        f"Cert name: {e.cert_name}",
        f"Reloaded at: {iso(e.at)}",
        "Nginx has been reloaded and now serves the certificate on disk.",
        "",
        _domains_line(e.domains),
        *_notes(e.notes),
        "",
        "Action Required: None, but check why the deploy hook did not reload nginx "
        "(journalctl -t certbot-deploy -n 50).",
    ]


def _test(e: TestNotice) -> list[str]:
    return [
        f"This is a test notice from certkeeper on {e.hostname}.",
        "If it arrived as a card on the board, notices work.",
    ]


def notice(event: Event | TestNotice, hostname: str) -> Notice:
    """What the outbox keeps and every channel sends: the card's subject and body."""
    about = ("", ()) if isinstance(event, TestNotice) else (event.cert_name, event.domains)
    return Notice(
        event_id=event_id(event),
        kind=event.kind,
        subject=subject(event, hostname),
        body=body(event),
        host=hostname,
        cert_name=about[0],
        domains=about[1],
        created=event.at,
        channels={},
    )


def compose(event: Event | TestNotice, *, hostname: str, sender: str, to: str) -> EmailMessage:
    """The whole e-mail for one event (see email_message)."""
    return email_message(notice(event, hostname), sender, to)


def email_message(card: Notice, sender: str, to: str) -> EmailMessage:
    """The whole message: Date, Message-ID, From, To, Subject and a UTF-8 text/plain body.

    Every header value comes from validated config or from our own formatting;
    EmailMessage refuses CR/LF in a header, so injection fails loudly, never silently.
    Raises ValueError, and nothing else, for a value that cannot be a header.
    """
    title = card.subject
    message_id = f"<{card.event_id}@{card.host}.certkeeper>"
    # Every header value, the Message-ID (which carries the cert_name) included: names
    # are validated at config load, and this is the last line if one ever is not.
    for value in (title, sender, to, card.host, message_id):
        if has_control_chars(value):
            raise ValueError(f"control character in a header value: {value!r}")
    msg = EmailMessage(policy=SMTP)
    try:
        msg["Subject"] = title
        msg["From"] = sender
        msg["To"] = to
        msg["Date"] = format_datetime(card.created)
        msg["Message-ID"] = message_id
    except (IndexError, AttributeError, MessageError) as exc:
        # The email package's header parser fails with IndexError on some malformed
        # addresses, and with AttributeError on a Message-ID whose host is "[" (a CPython
        # 3.11 parser bug, found by hypothesis); config validation keeps those out, and
        # this keeps the promise of one documented error type if one ever gets through.
        raise ValueError(f"not a valid header value: {exc}") from None
    msg.set_content(card.body, charset="utf-8", cte="quoted-printable")
    return msg
