"""The Ansible role and playbooks in examples/ansible: linted, syntax-checked, and run for
real by ansible-core into a fresh Debian 12 root made by debootstrap, where the package
gets installed and the config rendered and validated; a host in two service groups gets
each group's own file, a bad file is refused before it replaces the live one, and the
cutover (shadow -> active -> rollback) retires and gives back the old monitor's crontab
entries, deploy hook and certbot.timer byte for byte; then fleet-status.yml gathers that
host's status and reports on this machine.

The connection is tests/support/ansible_plugins/connection/debroot.py (chroot; see its
docstring for why not community.general.chroot). The fixtures are this file's own, built
on packaging/deb/build.sh, so that they do not collide with test_deb.py's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).parents[2]
EXAMPLES = TOP / "examples/ansible"
PLUGINS = TOP / "tests/support/ansible_plugins/connection"
MIRROR = os.environ.get("CERTKEEPER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BIN = Path(sys.executable).parent
OLD_CRONTAB = """\
MAILTO=ops@example.com
#Ansible: cert_renewal_foxycart-sandbox
17 3 * * * /usr/local/sbin/tot-ops-monitor --only cert_renewal_foxycart-sandbox
23 3 * * * /usr/local/sbin/tot-ops-monitor --only cert_expiry_foxycart-sandbox
*/5 * * * * /usr/local/sbin/tot-ops-monitor --only disk_space
"""


def run(*argv: str, timeout: float = 900, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kw
    )  # type: ignore[call-overload]


def chroot(root: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
    return run("chroot", str(root), *argv, env=env, input=stdin if stdin is not None else "")


def ansible_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "ANSIBLE_CONNECTION_PLUGINS": str(PLUGINS),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
    }


def playbook(
    tmp: Path, inventory: Path, name: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        str(EXAMPLES / name),
        *extra,
        env=ansible_env(tmp),
        cwd=str(tmp),
    )


def dump(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-3000:]}"


def test_syntax_check_and_ansible_lint(tmp_path: Path) -> None:
    env = ansible_env(tmp_path)
    syntax = run(
        str(BIN / "ansible-playbook"),
        "-i",
        str(EXAMPLES / "inventory/hosts.ini"),
        "--syntax-check",
        str(EXAMPLES / "certkeeper.yml"),
        str(EXAMPLES / "fleet-status.yml"),
        env=env,
    )
    assert syntax.returncode == 0, dump(syntax)
    lint = run(
        str(BIN / "ansible-lint"), "--offline", "--profile", "production", env=env, cwd=EXAMPLES
    )
    assert lint.returncode == 0, dump(lint)
    assert "0 failure(s), 0 warning(s)" in lint.stdout + lint.stderr


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Debian 12 as a team host has it before certkeeper: python3 for Ansible, systemd,
    cron with the old monitors in ubuntu's crontab, an old per-service deploy hook, and
    node_exporter's textfile folder."""
    target = tmp_path_factory.mktemp("ansible-bookworm")
    proc = run(
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-apt,systemd,cron",
        "bookworm",
        str(target),
        MIRROR,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert chroot(target, "useradd", "-m", "ubuntu").returncode == 0
    loaded = chroot(target, "crontab", "-u", "ubuntu", "-", stdin=OLD_CRONTAB)
    assert loaded.returncode == 0, loaded.stderr
    hooks = target / "etc/letsencrypt/renewal-hooks/deploy"
    hooks.mkdir(parents=True)
    (hooks / "foxycart-sandbox.sh").write_text("#!/bin/sh\nsystemctl reload nginx\n")
    (target / "var/lib/prometheus/node-exporter").mkdir(parents=True)
    yield target
    shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    """The example inventory's group_vars, unchanged, with one host: the Debian root."""
    folder = tmp_path_factory.mktemp("inventory")
    shutil.copytree(EXAMPLES / "inventory/group_vars", folder / "group_vars")
    hosts = folder / "hosts.ini"
    hosts.write_text(
        "[foxycart-sandbox]\n"
        f"app1 ansible_connection=debroot ansible_host={root} ansible_become=false "
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    return hosts


@pytest.mark.slow
def test_role_installs_and_renders_a_working_config_in_debian_12(
    deb: Path, root: Path, inventory: Path, tmp_path: Path
) -> None:
    stray = root / "etc/certkeeper/services.d"
    stray.mkdir(parents=True)
    (stray / "moved-away.yaml").write_text("certbot_enabled: false\n")
    args = ("-e", f"certkeeper_deb={deb}", "-e", "hostGroup=foxycart-sandbox")
    proc = playbook(tmp_path, inventory, "certkeeper.yml", *args)
    assert proc.returncode == 0, dump(proc)
    assert "failed=0" in proc.stdout
    assert (root / "etc/certkeeper/services.d/foxycart-sandbox.yaml").is_file(), dump(proc)

    # The service file is the group_vars file's certbot_* keys, unchanged.
    group_vars = yaml.safe_load(
        (EXAMPLES / "inventory/group_vars/foxycart-sandbox.yaml").read_text()
    )
    rendered = yaml.safe_load(
        (root / "etc/certkeeper/services.d/foxycart-sandbox.yaml").read_text()
    )
    assert rendered == group_vars
    assert sorted(p.name for p in stray.iterdir()) == ["foxycart-sandbox.yaml"]
    config = yaml.safe_load((root / "etc/certkeeper/config.yaml").read_text())
    assert config == {
        "mode": "shadow",
        "notify": {
            "smtp": {
                "host": "smtp.example.com",
                "port": 587,
                "security": "starttls",
                "username": "operations@tokenoftrust.com",
            },
            "to": "board+certs@boards.example.com",
            "from": "operations@tokenoftrust.com",
        },
        "metrics_file": "auto",
    }
    assert (root / "etc/certkeeper/config.yaml").stat().st_mode & 0o777 == 0o644

    validate = chroot(root, "certkeeper", "config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert (
        validate.stdout.strip() == "OK: /etc/certkeeper/config.yaml: 1 service(s), 1 certificate(s)"
    )
    assert validate.stderr == ""
    shown = yaml.safe_load(chroot(root, "certkeeper", "config", "show").stdout)
    assert shown["metrics_file"] == "/var/lib/prometheus/node-exporter/certkeeper.prom"

    assert chroot(root, "systemctl", "is-enabled", "certkeeper.timer").stdout.strip() == "enabled"
    # Shadow: the old monitor is left exactly as it was.
    hooks = root / "etc/letsencrypt/renewal-hooks/deploy"
    assert sorted(p.name for p in hooks.iterdir()) == ["certkeeper.sh", "foxycart-sandbox.sh"]
    assert os.access(hooks / "certkeeper.sh", os.X_OK)
    crontab = chroot(root, "crontab", "-u", "ubuntu", "-l")
    assert crontab.returncode == 0, crontab.stderr
    assert crontab.stdout == OLD_CRONTAB
    assert not (root / "etc/systemd/system/certbot.timer").exists()

    # A second run changes nothing.
    again = playbook(tmp_path, inventory, "certkeeper.yml", *args)
    assert again.returncode == 0, dump(again)
    assert "changed=0" in again.stdout, dump(again)


@pytest.mark.slow
def test_fleet_status_gathers_and_reports(
    deb: Path, root: Path, inventory: Path, tmp_path: Path
) -> None:
    if not (root / "usr/bin/certkeeper").exists():
        installed = playbook(
            tmp_path,
            inventory,
            "certkeeper.yml",
            "-e",
            f"certkeeper_deb={deb}",
            "-e",
            "hostGroup=foxycart-sandbox",
        )
        assert installed.returncode == 0, dump(installed)
    answers = tmp_path / "answers"
    report_command = json.dumps([sys.executable, "-m", "certkeeper"])
    proc = playbook(
        tmp_path,
        inventory,
        "fleet-status.yml",
        "-e",
        f"fleet_status_dir={answers}",
        "-e",
        f'{{"fleet_report_command": {report_command}}}',
    )
    assert proc.returncode == 0, dump(proc)
    [saved] = answers.glob("*.json")
    assert saved.name == "app1.json"
    doc = json.loads(saved.read_text())
    assert {"host", "generated_at", "certificates"} <= set(doc)
    # No lineage in the fresh root yet: every name is MISSING, and the table says so.
    assert {row["state"] for row in doc["certificates"]} == {"MISSING"}
    assert "foxycart-sandbox3.tokenoftrust.com" in proc.stdout
    assert "MISSING" in proc.stdout
    assert "1 host(s), 3 row(s): 3 critical" in proc.stdout


@pytest.mark.slow
def test_a_host_with_two_services_lists_them(
    deb: Path, root: Path, inventory: Path, tmp_path: Path
) -> None:
    examples = yaml.safe_load((TOP / "examples/services.d/shopify.yaml").read_text())
    shopify = {k: v for k, v in examples.items() if k.startswith("certbot_")}
    partner = yaml.safe_load((TOP / "examples/services.d/partner-portal.yaml").read_text())
    services = [{"name": "shopify", "vars": shopify}, {"name": "partner-portal", "vars": partner}]
    proc = playbook(
        tmp_path,
        inventory,
        "certkeeper.yml",
        "-e",
        f"certkeeper_deb={deb}",
        "-e",
        json.dumps({"certkeeper_services": services}),
    )
    assert proc.returncode == 0, dump(proc)
    folder = root / "etc/certkeeper/services.d"
    assert sorted(p.name for p in folder.iterdir()) == ["partner-portal.yaml", "shopify.yaml"]
    assert yaml.safe_load((folder / "shopify.yaml").read_text()) == shopify
    validate = chroot(root, "certkeeper", "config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert (
        validate.stdout.strip() == "OK: /etc/certkeeper/config.yaml: 2 service(s), 2 certificate(s)"
    )


def service_vars(cert: str, *domains: str) -> dict[str, object]:
    return {
        "certbot_enabled": True,
        "certbot_email": "operations+letsencrypt@tokenoftrust.com",
        "certbot_renewal_days": 31,
        "certbot_domains": [
            {"domains": list(domains), "webroot": "/var/www/letsencrypt", "cert_name": cert}
        ],
        "certbot_services": [{"name": cert, "cert_source": cert}],
    }


API = service_vars("api", "api.tokenoftrust.com")
SHOP = service_vars("shop", "shop.tokenoftrust.com", "www.shop.tokenoftrust.com")


def two_group_inventory(folder: Path, root: Path) -> Path:
    """One host in [api] and [shop]; shop's group_vars vaulted, and geerlingguy.certbot's
    own certbot_* variables in group_vars/all and in shop's file."""
    group_vars = folder / "group_vars"
    group_vars.mkdir(parents=True)
    (group_vars / "all.yaml").write_text(
        yaml.safe_dump({"certbot_auto_renew": True, "certbot_auto_renew_user": "root"})
    )
    (group_vars / "api.yaml").write_text(yaml.safe_dump(API))
    shop = group_vars / "shop.yml"
    shop.write_text(yaml.safe_dump({**SHOP, "certbot_create_if_missing": True}))
    (folder / "vault-pass").write_text("correct horse\n")
    vault = run(
        str(BIN / "ansible-vault"),
        "encrypt",
        "--vault-password-file",
        str(folder / "vault-pass"),
        str(shop),
    )
    assert vault.returncode == 0, dump(vault)
    assert shop.read_text().startswith("$ANSIBLE_VAULT;")
    hosts = folder / "hosts.ini"
    line = (
        f"app2 ansible_connection=debroot ansible_host={root} ansible_become=false "
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    hosts.write_text(f"[api]\n{line}\n[shop]\n{line}")
    return hosts


@pytest.mark.slow
def test_a_host_in_two_service_groups_gets_each_groups_own_file(
    deb: Path, root: Path, tmp_path: Path
) -> None:
    hosts = two_group_inventory(tmp_path / "inv", root)
    vault = ("--vault-password-file", str(tmp_path / "inv/vault-pass"))
    folder = root / "etc/certkeeper/services.d"
    for group in ("api", "shop"):
        # The team's `-e hostGroup=<service>` runs: either one renders both files, and
        # certkeeper_services_exclusive removes neither.
        proc = playbook(
            tmp_path, hosts, "certkeeper.yml", "-e", f"certkeeper_deb={deb}",
            "-e", f"hostGroup={group}", *vault,
        )  # fmt: skip
        assert proc.returncode == 0, dump(proc)
        assert sorted(p.name for p in folder.iterdir()) == ["api.yaml", "shop.yaml"]
        # Each file is its own group's keys: no shop domain in api's file, no stray
        # geerlingguy.certbot variable anywhere.
        assert yaml.safe_load((folder / "api.yaml").read_text()) == API
        assert yaml.safe_load((folder / "shop.yaml").read_text()) == SHOP
    validate = chroot(root, "certkeeper", "config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout.startswith("OK: /etc/certkeeper/config.yaml: 2 service(s), 2 certif")


@pytest.mark.slow
def test_a_bad_service_file_is_refused_and_the_live_one_stays(
    deb: Path, root: Path, tmp_path: Path
) -> None:
    hosts = two_group_inventory(tmp_path / "inv", root)
    vault = ("--vault-password-file", str(tmp_path / "inv/vault-pass"))
    args = ("-e", f"certkeeper_deb={deb}", *vault)
    good = playbook(tmp_path, hosts, "certkeeper.yml", *args)
    assert good.returncode == 0, dump(good)
    live = root / "etc/certkeeper/services.d/api.yaml"
    before = live.read_bytes()

    # api's group_vars now claims shop's cert_name: the candidate clashes with shop.yaml.
    clash = service_vars("shop", "api.tokenoftrust.com")
    (tmp_path / "inv/group_vars/api.yaml").write_text(yaml.safe_dump(clash))
    proc = playbook(tmp_path, hosts, "certkeeper.yml", *args)
    assert proc.returncode != 0, dump(proc)
    assert "failed=1" in proc.stdout
    assert (
        "/etc/certkeeper/services.d/api.yaml: certbot_domains[0].cert_name = 'shop': expected a"
        " cert_name not already used by /etc/certkeeper/services.d/shop.yaml"
    ) in proc.stdout, dump(proc)
    assert live.read_bytes() == before

    # A value certkeeper cannot use: refused the same way, the live file untouched.
    (tmp_path / "inv/group_vars/api.yaml").write_text(
        yaml.safe_dump({**API, "certbot_renewal_days": "soon"})
    )
    proc = playbook(tmp_path, hosts, "certkeeper.yml", *args)
    assert proc.returncode != 0, dump(proc)
    assert "certbot_renewal_days = 'soon': expected a whole number" in proc.stdout, dump(proc)
    assert live.read_bytes() == before
    assert chroot(root, "certkeeper", "config", "validate").returncode == 0


@pytest.mark.slow
def test_cutover_shadow_active_rollback_on_disk(
    deb: Path, root: Path, inventory: Path, tmp_path: Path
) -> None:
    spool = root / "var/spool/cron/crontabs/ubuntu"
    hooks = root / "etc/letsencrypt/renewal-hooks/deploy"
    mask = root / "etc/systemd/system/certbot.timer"
    config = root / "etc/certkeeper/config.yaml"
    base = ("-e", f"certkeeper_deb={deb}", "-e", "hostGroup=foxycart-sandbox")

    shadow = playbook(tmp_path, inventory, "certkeeper.yml", *base)
    assert shadow.returncode == 0, dump(shadow)
    assert yaml.safe_load(config.read_text())["mode"] == "shadow"
    crontab_before = spool.read_bytes()
    hook_before = (hooks / "foxycart-sandbox.sh").read_bytes()
    hook_mode = (hooks / "foxycart-sandbox.sh").stat().st_mode
    assert chroot(root, "crontab", "-u", "ubuntu", "-l").stdout == OLD_CRONTAB
    assert not mask.is_symlink()

    active = playbook(tmp_path, inventory, "certkeeper.yml", *base, "-e", "certkeeper_mode=active")
    assert active.returncode == 0, dump(active)
    assert yaml.safe_load(config.read_text())["mode"] == "active"
    crontab = chroot(root, "crontab", "-u", "ubuntu", "-l").stdout
    assert "cert_renewal" not in crontab and "cert_expiry" not in crontab
    assert "#Ansible:" not in crontab
    assert "MAILTO=ops@example.com" in crontab and "--only disk_space" in crontab
    assert sorted(p.name for p in hooks.iterdir()) == ["certkeeper.sh"]
    assert (
        root / "var/lib/certkeeper/cutover/hooks/foxycart-sandbox.sh"
    ).read_bytes() == hook_before
    assert mask.is_symlink() and os.readlink(mask) == "/dev/null"
    again = playbook(tmp_path, inventory, "certkeeper.yml", *base, "-e", "certkeeper_mode=active")
    assert again.returncode == 0, dump(again)
    assert "changed=0" in again.stdout, dump(again)

    # shadow now would leave nothing renewing: refused, nothing changed.
    refused = playbook(tmp_path, inventory, "certkeeper.yml", *base)
    assert refused.returncode != 0
    assert "certkeeper_mode=rollback" in refused.stdout, dump(refused)
    assert yaml.safe_load(config.read_text())["mode"] == "active"

    back = playbook(tmp_path, inventory, "certkeeper.yml", *base, "-e", "certkeeper_mode=rollback")
    assert back.returncode == 0, dump(back)
    assert yaml.safe_load(config.read_text())["mode"] == "shadow"
    assert spool.read_bytes() == crontab_before
    assert chroot(root, "crontab", "-u", "ubuntu", "-l").stdout == OLD_CRONTAB
    assert (hooks / "foxycart-sandbox.sh").read_bytes() == hook_before
    assert (hooks / "foxycart-sandbox.sh").stat().st_mode == hook_mode
    assert not mask.exists() and not mask.is_symlink()
    assert sorted(p.name for p in (root / "var/lib/certkeeper/cutover").rglob("*")) == ["hooks"]
    # And a shadow run after the rollback is an ordinary one.
    after = playbook(tmp_path, inventory, "certkeeper.yml", *base)
    assert after.returncode == 0, dump(after)
