"""What the first week on real hosts meets: a pair of hosts serving the same names, a first
issuance before its server block exists, and cards that tell what clients see.

A pair is two real nginx instances on one port: this host's on 127.0.0.1 and the other
host's on 127.0.0.2, each with its own certificate for the same names.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from support.host import SHOP, Host, dump, issue, make_due
from support.peers import Nginx

TARGET_NOTE = (
    "SERVED = what this host's nginx at 127.0.0.1:{port} (probe.connect_host: local) answers"
)


def status_rows(host: Host) -> tuple[int, list[dict[str, object]]]:
    proc = host.run("status", "--json")
    return proc.returncode, json.loads(proc.stdout)["certificates"]


def test_a_pair_of_hosts_each_judges_its_own_nginx(host: Host, other_host: Nginx) -> None:
    issue(host)
    mine = host.disk_serial("shop")
    code, rows = status_rows(host)
    assert code == 0, rows
    assert [r["state"] for r in rows] == ["OK", "OK"]
    assert {r["served"]["serial"] for r in rows} == {format(mine, "x")}  # type: ignore[index]
    assert {r["target"] for r in rows} == {f"127.0.0.1:{host.nginx.tls_port}"}
    table = host.run("status")
    assert TARGET_NOTE.format(port=host.nginx.tls_port) in table.stdout

    # A renewal is verified on this host's nginx, whatever the other host serves.
    old = make_due(host)
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    new = host.disk_serial("shop")
    assert new != old and host.served_serial(SHOP[0]) == new
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"

    # Pointing the probe elsewhere is an explicit choice, and status names where it looked:
    # here the other host of the pair, which serves its own certificate.
    host.write()
    config = host.config.read_text().replace("probe:\n", "probe:\n  connect_host: 127.0.0.2\n")
    host.config.write_text(config)
    proc = host.run("status", "--json")
    assert proc.returncode == 2
    rows = json.loads(proc.stdout)["certificates"]
    assert {r["state"] for r in rows} == {"MISMATCH"}
    assert {r["target"] for r in rows} == {f"127.0.0.2:{host.nginx.tls_port}"}


def test_first_issuance_before_the_server_block_exists_is_a_success(host: Host) -> None:
    # Another site, whose certificate expires soon, is nginx's default TLS server: it
    # answers every name nginx has no server block for.
    soon = datetime.now(UTC) + timedelta(days=3)
    other = host.placeholder.issue_cert("other.example.test", not_after=soon)
    crt, key = host.root / "other.crt", host.root / "other.key"
    crt.write_bytes(b"".join(b.bytes() for b in other.cert_chain_pems))
    key.write_bytes(other.private_key_pem.bytes())
    host.nginx.add_site("other", ("other.example.test",), host.placeholder, files=(crt, key))
    host.nginx.reload()
    host.add("shop", *SHOP, site=False)

    proc = host.check()
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-2000:]
    certs = host.nginx.certs_dir
    assert proc.stdout.startswith("shop: issued; expires ")
    assert "not served by nginx yet: shop.example.test: nginx does not serve this name yet" in (
        proc.stdout
    )
    assert f"ssl_certificate {certs}/shop.fullchain.crt; and ssl_certificate_key" in proc.stdout
    assert (certs / "shop.fullchain.crt").resolve() == (
        host.le / "live/shop/fullchain.pem"
    ).resolve()
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert issued for shop.example.test"
    body = mail.get_content().replace("\r\n", "\n")
    assert "Nginx has been reloaded with the new certificate." not in body
    assert "It serves the new certificate on: none of its names yet" in body
    assert (
        "  www.shop.example.test: nginx does not serve this name yet (it answered with a " in body
    )
    assert f"  ssl_certificate {certs}/shop.fullchain.crt;\n" in body
    assert f"  ssl_certificate_key {certs}/shop.key;\n" in body
    assert "Action Required: deploy the TLS server block" in body

    # status keeps saying so until nginx serves it; check does not loop on it.
    code, rows = status_rows(host)
    assert code == 2 and {r["state"] for r in rows} == {"NOT_COVERED"}
    again = host.check("--force")
    assert again.returncode == 0 and again.stdout == "" and again.stderr == "", dump(again)
    assert len(host.mails) == 1

    # Ansible deploys the server block on the guide's symlinks: now it is served.
    host.nginx.add_site("shop", SHOP, host.placeholder)
    host.nginx.reload()
    host.settle()
    code, rows = status_rows(host)
    assert code == 0 and {r["state"] for r in rows} == {"OK"}, rows


def test_first_issuance_where_nginx_serves_another_certificate_says_so(host: Host) -> None:
    # The server block exists but reads hand-made files, not the guide's symlinks.
    manual = host.placeholder.issue_cert(*SHOP)
    crt, key = host.root / "manual.crt", host.root / "manual.key"
    crt.write_bytes(b"".join(b.bytes() for b in manual.cert_chain_pems))
    key.write_bytes(manual.private_key_pem.bytes())
    host.nginx.add_site("shop", SHOP, host.placeholder, files=(crt, key))
    host.nginx.reload()
    host.add("shop", *SHOP, site=False)

    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert issued for shop.example.test"
    body = mail.get_content().replace("\r\n", "\n")
    assert (
        "  shop.example.test: nginx serves a different certificate for this name: serial " in body
    )
    assert f"  ssl_certificate {host.nginx.certs_dir}/shop.fullchain.crt;\n" in body


def test_renewal_keeps_the_strict_rule(host: Host) -> None:
    issue(host)
    old = make_due(host)
    # The server block is gone: a renewal nobody serves is an ERROR, never a SUCCESS.
    (host.nginx.sites / "shop.conf").unlink()
    host.nginx.reload()
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert host.disk_serial("shop") != old
    [mail] = host.mails
    assert mail["Subject"] == "[ERROR] testhost \u2013 Cert renewal FAILED for shop.example.test"
    assert "Failed step: post-reload probe" in mail.get_content()


def test_failed_mismatch_repair_card_shows_the_expiry_clients_see(host: Host) -> None:
    issue(host)
    make_due(host)  # nginx serves a certificate with 5 days left
    renewed = host.certbot_renew("--no-directory-hooks")  # the disk gets a fresh one
    assert renewed.returncode == 0, renewed.stderr
    (host.nginx.sites / "zz-broken.conf").write_text(
        "server { listen 127.0.0.1:1 ssl; ssl_bogus_directive on; }\n"
    )
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    [mail] = host.mails
    body = mail.get_content().replace("\r\n", "\n")
    assert "Failed step: nginx -t" in body
    assert "(5 days remaining)" in body.splitlines()[1], body
    # The command the card suggests works as printed.
    suggested = next(line for line in body.splitlines() if line.startswith("certkeeper status"))
    status = host.run(*suggested.split()[1:])
    assert status.returncode == 2 and "MISMATCH" in status.stdout, dump(status)
