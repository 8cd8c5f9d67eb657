"""Shadow mode on a real host world (pebble, nginx, certbot, SMTP): installing certkeeper
beside the old monitor changes nothing about how the host renews until `mode: active`.

Each case asserts what the team would see: the serial nginx serves, the mail that did or
did not arrive, the state file and what certkeeper printed.
"""

from __future__ import annotations

import json

from support.host import SHOP, Host, dump, issue, make_due

ATTEMPT_BEFORE = "2000-01-01T00:00:00Z"  # what make_due leaves as the last attempt


def shadow(host: Host) -> None:
    host.extra_config = {"mode": "shadow"}
    host.write()


def test_a_due_certificate_is_untouched_in_shadow_and_renewed_once_active(host: Host) -> None:
    issue(host)
    old = make_due(host)
    shadow(host)

    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    assert "would renew shop (5 days left on disk; service shop)" in proc.stdout
    assert (
        "shadow: nothing was renewed, linked, reloaded or sent; to let certkeeper renew,"
        f" set `mode: active` in {host.config}"
    ) in proc.stdout
    assert host.disk_serial("shop") == old == host.served_serial(SHOP[0])
    assert host.archive_count("shop") == 1
    assert host.mails == []
    rec = host.state()["certs"]["shop"]
    assert rec["last_attempt"] == ATTEMPT_BEFORE and rec.get("intent") is None
    assert not list((host.root / "state" / "outbox").glob("*.eml"))

    # A second shadow run is the same: no attempt was recorded to hold it back.
    again = host.check()
    assert again.returncode == 0 and "would renew shop" in again.stdout, dump(again)

    host.extra_config = {"mode": "active"}
    host.write()
    active = host.check()
    assert active.returncode == 0, dump(active) + host.certbot_log()[-3000:]
    new = host.disk_serial("shop")
    assert new not in (None, old)
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    assert host.state()["certs"]["shop"]["last_attempt"] != ATTEMPT_BEFORE


def test_status_metrics_and_doctor_say_the_host_is_in_shadow(host: Host) -> None:
    issue(host)
    shadow(host)
    status = host.run("status")
    assert status.returncode == 0, dump(status)
    assert f"this host is in shadow mode (mode: shadow in {host.config})" in status.stderr
    as_json = host.run("status", "--json")
    assert json.loads(as_json.stdout)["certificates"], dump(as_json)
    metrics = host.run("metrics")
    assert 'certkeeper_mode{mode="shadow"} 1' in metrics.stdout.splitlines()
    doctor = host.run("doctor", "--json")
    [mode] = [c for c in json.loads(doctor.stdout)["checks"] if c["check"] == "mode"]
    assert mode["ok"] and mode["finding"].startswith("shadow: check decides but never renews")

    host.extra_config = {"mode": "active"}
    host.write()
    assert 'certkeeper_mode{mode="active"} 1' in host.run("metrics").stdout.splitlines()
    assert "shadow" not in host.run("status").stderr


def test_the_deploy_hook_is_inert_in_shadow(host: Host) -> None:
    """certbot renewing on its own (the old monitor's cron) runs certkeeper's hook too; in
    shadow it must not add a reload and a card to the old hook's."""
    issue(host)
    assert host.run("install-hook").returncode == 0
    shadow(host)
    served = host.served_serial(SHOP[0])
    links = sorted(p.name + str(p.readlink()) for p in host.nginx.certs_dir.iterdir())
    renewed = host.certbot_renew()
    assert renewed.returncode == 0, renewed.stderr
    assert host.disk_serial("shop") != served
    assert host.served_serial(SHOP[0]) == served  # nobody reloaded nginx
    assert sorted(p.name + str(p.readlink()) for p in host.nginx.certs_dir.iterdir()) == links
    assert host.mails == []
    hook = host.run_env("deploy-hook", RENEWED_LINEAGE=str(host.le / "live" / "shop"))
    assert hook.returncode == 0, dump(hook)
    assert hook.stdout == f"shadow: the deploy hook did nothing (mode: shadow in {host.config})\n"
