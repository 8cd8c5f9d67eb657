"""A name the CA paused: found in certbot's words, its unpause link checked before it goes
anywhere, the row's state and the card's first line. Pure functions and one state file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certkeeper import policy, state
from certkeeper.notify.compose import body
from certkeeper.notify.events import Failed
from certkeeper.policy import Health, Severity
from certkeeper.x509info import CertInfo

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
LINK = (
    "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3OCIsImkiOiJibG9nLmV4YW1wbGUuY29tIn0.c2lnbmF0dXJl"
)
# Boulder's detail (wfe2/wfe.go), as certbot prints it after "An unexpected error occurred:".
DETAIL = (
    "Your account is temporarily prevented from requesting certificates for blog.example.com "
    "and possibly others. Please visit: {link}"
)


def certbot_says(link: str) -> str:
    return (
        "Requesting a certificate for blog.example.com\n"
        "An unexpected error occurred:\n"
        f"{DETAIL.format(link=link)}\n"
        "Ask for help or search for solutions at https://community.letsencrypt.org. See the "
        "logfile /var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.\n"
    )


def test_certbots_words_give_the_link() -> None:
    assert policy.ca_pause(certbot_says(LINK)) == policy.CaPause(LINK)


def test_the_problem_document_itself_gives_the_link_without_its_quote() -> None:
    doc = json.dumps(
        {
            "type": "urn:ietf:params:acme:error:rateLimited",
            "detail": DETAIL.format(link=LINK),
            "status": 429,
        }
    )
    assert policy.ca_pause(doc) == policy.CaPause(LINK)


@pytest.mark.parametrize(
    "text",
    [
        "Some challenges have failed.",
        # The hourly failed-validation limit is a back-off, not a pause.
        'too many failed authorizations (5) for "blog.example.com" in the last 1h0m0s, '
        "retry after 2026-11-26 04:00:00 UTC: see https://letsencrypt.org/docs/rate-limits/",
        "",
    ],
)
def test_other_failures_are_not_a_pause(text: str) -> None:
    assert policy.ca_pause(text) is None


@pytest.mark.parametrize(
    ("link", "why"),
    [
        (LINK.replace("jwt=", "jwt=\x1b[2J\x1b[H"), "not printable ASCII"),
        (LINK + "\r", "not printable ASCII"),
        (LINK + "\x7f", "not printable ASCII"),
        (LINK + "\u202e", "not printable ASCII"),
        (LINK + "A" * 10_000, "longer than 2048 characters"),
        (LINK.replace("https:", "http:"), "not an https:// URL"),
        ("javascript:alert(document.cookie)//https://portal.letsencrypt.org/", "not an https"),
        ("HTTPS://portal.letsencrypt.org/", "not an https:// URL"),
        ("https://", "no plain host name"),
        (LINK.replace("jwt=", "jwt=\\u001b[2J"), "a character no URL has"),
        (LINK + "<script>", "a character no URL has"),
        ("https://user:pw@evil.example/", "no plain host name"),
    ],
)
def test_a_hostile_link_is_refused_and_the_pause_still_counts(link: str, why: str) -> None:
    pause = policy.ca_pause(certbot_says(link))
    assert pause is not None and pause.link is None
    assert pause.refused is not None and why in pause.refused
    lead = policy.pause_lead(pause.link)
    assert lead.startswith("paused by the CA: fix the cause") and "https" not in lead


def test_a_pause_without_a_link_still_counts() -> None:
    text = "Your account is temporarily prevented from requesting certificates for a.example and "
    pause = policy.ca_pause(text + "possibly others.")
    assert pause == policy.CaPause(None, "the CA's message carried no link")


def test_the_lead_line_names_the_link() -> None:
    assert policy.pause_lead(LINK) == f"paused by the CA: fix the cause, then visit {LINK}"


def cert(days_left: float) -> CertInfo:
    not_after = NOW + timedelta(days=days_left)
    return CertInfo(1, not_after - timedelta(days=90), not_after, "CA", ("a.example",))


def row(days_left: float) -> policy.Assessment:
    c = cert(days_left)
    return policy.assess(
        "a.example", policy.Observed(c, None, c), policy.Judging(False, 30, (14, 7)), NOW
    )


def test_paused_is_a_warning_and_never_hides_a_worse_state() -> None:
    assert policy.severity("PAUSED") is Severity.WARNING
    due = policy.paused_row(row(20), "paused by the CA")
    assert (due.state, due.reason, due.days_left) == (Health.PAUSED, "paused by the CA", 20)
    fine = policy.paused_row(row(60), "paused by the CA")
    assert fine.state is Health.PAUSED
    expired = policy.paused_row(row(-1), "paused by the CA")
    assert expired.state is Health.EXPIRED
    assert expired.reason == "expired; paused by the CA"


def test_the_pause_survives_in_state_and_a_forged_link_does_not(tmp_path: Path) -> None:
    st = state.load(tmp_path, NOW)
    st.cert("blog").paused = state.Paused(NOW, LINK)
    st.cert("shop").paused = state.Paused(NOW, LINK)
    st.save(NOW)
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["certs"]["blog"]["paused"] == {"since": "2026-11-26T03:00:00Z", "link": LINK}
    doc["certs"]["shop"]["paused"]["link"] = "https://x.example/\x1b[2J"
    doc["certs"]["other"] = {"paused": {"since": "yesterday", "link": LINK}}
    (tmp_path / "state.json").write_text(json.dumps(doc))
    again = state.load(tmp_path, NOW)
    assert again.cert("blog").paused == state.Paused(NOW, LINK)
    assert again.cert("shop").paused == state.Paused(NOW, None)
    assert again.cert("other").paused is None


def failed(paused: bool, link: str | None) -> Failed:
    return Failed(
        cert_name="blog",
        domains=("blog.example.com",),
        at=NOW,
        current_expiry=NOW + timedelta(days=20),
        step="certbot",
        output="certbot exited with code 1\n" + certbot_says(LINK),
        ca_paused=paused,
        unpause_link=link,
    )


def test_the_card_leads_with_the_pause() -> None:
    lines = body(failed(True, LINK)).splitlines()
    assert lines[0] == f"paused by the CA: fix the cause, then visit {LINK}"
    assert lines[2] == "Certificate renewal for blog.example.com FAILED."
    refused = body(failed(True, None)).splitlines()[0]
    assert refused.startswith("paused by the CA: fix the cause, then unpause it with the link")
    assert body(failed(False, None)).splitlines()[0].startswith("Certificate renewal for")
