"""ERROR cards and lines that say what happened: a failed first issuance is told as one,
every ERROR card starts its checklist with doctor, and the terminal names the CA's reason.

Real certbot against pebble, a real nginx whose challenge path answers 404, and the real
SMTP sink: the assertions are on the e-mail the board receives and the line on stderr.
"""

from __future__ import annotations

from support.host import SHOP, Host, dump, issue, make_due


def break_challenge_path(host: Host) -> None:
    """nginx answers the challenge path from an empty folder: 404 for every token."""
    host.nginx.challenge_root = host.root / "empty"
    host.nginx.challenge_root.mkdir()
    host.nginx.write_conf()
    host.nginx.reload()


def checklist_order(body: str) -> None:
    doctor = body.index("First: sudo certkeeper doctor shop")
    assert body.index("Manual intervention required. Check:") < doctor
    assert doctor < body.index("1. Nginx is serving /.well-known/acme-challenge/ from ")
    assert body.index("1. Nginx") < body.index("2. DNS correctly points to this server")


def test_a_failed_first_issuance_is_an_issuance_card_with_the_command_that_issues(
    host: Host,
) -> None:
    host.add("shop", *SHOP)
    break_challenge_path(host)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    [line] = proc.stderr.splitlines()
    # The CA's reason, not only "certbot exited with code 1".
    assert line.startswith("ERROR: shop: certbot failed: "), line
    assert "exited with code 1: " in line and "acme-challenge" in line, line
    assert line.endswith("404"), line
    [mail] = host.mails
    assert mail["Subject"] == "[ERROR] testhost \u2013 Cert issuance FAILED for shop.example.test"
    body = mail.get_content().replace("\r\n", "\n")
    assert body.startswith("Certificate issuance for shop.example.test FAILED.\n")
    assert "unknown" not in body
    assert "Current expiry: none (first issuance" in body
    assert "Issuance attempted at: " in body
    webroot = host.nginx.webroot
    assert (
        f"certbot certonly --webroot -w {webroot} -d shop.example.test -d www.shop.example.test "
        "--cert-name shop --dry-run" in body
    )
    assert "certbot renew" not in body
    checklist_order(body)


def test_a_failed_renewal_keeps_the_guides_card_with_doctor_first(host: Host) -> None:
    issue(host)
    make_due(host)
    break_challenge_path(host)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert "404" in proc.stderr, dump(proc)
    [mail] = host.mails
    assert mail["Subject"] == "[ERROR] testhost \u2013 Cert renewal FAILED for shop.example.test"
    body = mail.get_content().replace("\r\n", "\n")
    assert body.startswith("Certificate renewal for shop.example.test FAILED.\nCurrent expiry: ")
    assert "certbot renew --cert-name shop --dry-run" in body
    checklist_order(body)
