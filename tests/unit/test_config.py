"""The configuration contract: a corpus of broken files, each with its exact one-line message.

Run through the real CLI, so each case also proves: exit code 2 (3 for status), no
traceback, and every problem reported rather than only the first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from support.run import certkeeper, service, write_config

GOOD = service("shop", "shop.example.com", "www.shop.example.com")


def validate(cfg: Path) -> tuple[int, list[str]]:
    proc = certkeeper(cfg, "config", "validate")
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stderr.strip().splitlines()


def only_problem(cfg: Path) -> str:
    code, lines = validate(cfg)
    assert code == 2, lines
    assert len(lines) == 1, lines
    return lines[0]


def test_valid_config_with_group_vars_extras(tmp_path: Path) -> None:
    svc = dict(GOOD, nginx_worker_processes=4, app_version="1.2.3")
    cfg = write_config(tmp_path, {"shop": svc})
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"OK: {cfg}: 1 service(s), 1 certificate(s)"


def test_the_shipped_example_config_is_valid(tmp_path: Path) -> None:
    examples = Path(__file__).parents[2] / "examples"
    text = (examples / "config.yaml").read_text()
    text = text.replace(
        "services_dir: /etc/certkeeper/services.d", f"services_dir: {examples / 'services.d'}"
    )
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 0, proc.stderr
    assert "3 service(s)" in proc.stdout


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"probe": {"port": "https"}},
            "probe.port = 'https': expected a whole number from 1 to 65535",
        ),
        (
            {"jiter_seconds": 5},
            "jiter_seconds: unknown key (did you mean 'jitter_seconds'?); known keys: hostname, "
            "services_dir, state_dir, lock_file, lock_timeout_seconds, jitter_seconds, certbot, "
            "nginx, probe, notify, ari, ca, dns, metrics_file, mode",
        ),
        (
            {"notify": {"smtp": {"security": "starttsl"}}},
            "notify.smtp.security = 'starttsl': expected one of: none, starttls, tls",
        ),
        (
            {"notify": {"to": "board@example.com\r\nBcc: all@example.com"}},
            "notify.to = 'board@example.com\\r\\nBcc: all@example.com': expected a plain e-mail "
            "address such as ops@example.com (ASCII, no display name)",
        ),
        (
            {"hostname": "app3\nX-Evil: 1"},
            "hostname = 'app3\\nX-Evil: 1': expected a host name of letters, digits, hyphens and dots",
        ),
        (
            {"certbot": {"command": "certbot renew"}},
            "certbot.command = 'certbot renew': expected a non-empty list: program, arguments "
            "(strings without control characters)",
        ),
        (
            {"certbot": {"timeout_seconds": 0}},
            "certbot.timeout_seconds = 0: expected a number of seconds above 0 and at most 86400",
        ),
        (
            {"notify": {"warn_days": [30, "soon"]}},
            "notify.warn_days = [30, 'soon']: expected a list of whole days from 1 to 365, "
            "e.g. [30, 14, 7]",
        ),
        (
            {"probe": {"concurrency": True}},
            "probe.concurrency = True: expected a whole number from 1 to 256",
        ),
        (
            {"nginx": {"timeout_seconds": 7200}},
            "nginx.timeout_seconds = 7200: expected a number of seconds above 0 and at most 3600",
        ),
        (
            {"nginx": {"timeout": 30}},
            "nginx.timeout: unknown key (did you mean 'timeout_seconds'?); known keys: "
            "test_command, reload_command, certs_dir, timeout_seconds",
        ),
    ],
)
def test_global_file_problems(tmp_path: Path, override: dict[str, object], expected: str) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD}, **override)
    assert only_problem(cfg) == f"{cfg}: {expected}"


def test_password_in_config_is_refused_without_echoing_it(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, {"shop": GOOD}, notify={"smtp": {"username": "u", "password": "hunter2-secret"}}
    )
    line = only_problem(cfg)
    assert line.startswith(
        f"{cfg}: notify.smtp.password: unknown key (did you mean 'password_file'?)"
    )
    assert "hunter2" not in line


def test_a_world_readable_password_file_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    """Mail is the report, not the job: validate passes (exit 0), so the role's
    validate-before-replace keeps a config that still renews."""
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o644)
    cfg = write_config(
        tmp_path, {"shop": GOOD}, notify={"smtp": {"username": "u", "password_file": str(secret)}}
    )
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"OK: {cfg}: 1 service(s), 1 certificate(s)"
    assert "s3cret" not in proc.stdout + proc.stderr


def test_mode_must_be_shadow_or_active(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD}, mode="dry")
    assert only_problem(cfg) == f"{cfg}: mode = 'dry': expected one of: shadow, active"


def test_config_show_never_prints_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("hunter2-secret\n")
    os.chmod(secret, 0o600)
    cfg = write_config(
        tmp_path, {"shop": GOOD}, notify={"smtp": {"username": "u", "password_file": str(secret)}}
    )
    proc = certkeeper(cfg, "config", "show")
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)
    assert shown["notify"]["smtp"]["password"] == "<redacted>"
    assert shown["services"][0]["certbot_domains"][0]["domains"] == [
        "shop.example.com",
        "www.shop.example.com",
    ]
    assert "hunter2" not in proc.stdout + proc.stderr


def test_yaml_syntax_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    cfg.write_text("hostname: app3\nprobe: [unclosed\n")
    line = only_problem(cfg)
    assert line.startswith(f"{cfg}: line 3: not valid YAML: ")


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, (prev, cur) in enumerate(zip("abcdefgh", "bcdefghi", strict=True)):
        refs = ",".join([f"*{prev}"] * 9)
        lines.append(f"{cur}: &{cur} [{refs}]")
        del i
    cfg.write_text("\n".join(lines) + "\n")
    assert only_problem(cfg) == f"{cfg}: YAML expands to more than 100000 nodes (alias bomb?)"


def test_huge_file_is_refused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    cfg.write_text("# " + "x" * (1024 * 1024) + "\n")
    assert only_problem(cfg).endswith(": expected at most 1048576 bytes")


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert only_problem(missing) == f"{missing}: file not found"


def test_missing_services_dir(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, services_dir="does-not-exist")
    assert only_problem(cfg) == (
        f"{tmp_path / 'does-not-exist'}: services_dir does not exist or is not a folder"
    )


def _service_problem(tmp_path: Path, doc: object, name: str = "shop") -> str:
    cfg = write_config(tmp_path)
    (tmp_path / "services.d" / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    line = only_problem(cfg)
    prefix = f"{tmp_path / 'services.d' / name}.yaml: "
    assert line.startswith(prefix), line
    return line[len(prefix) :]


def _with_domains(**entry: object) -> dict[str, object]:
    doc = dict(GOOD)
    merged = {
        "domains": ["shop.example.com"],
        "webroot": "/var/www/letsencrypt",
        "cert_name": "shop",
    }
    merged.update(entry)
    doc["certbot_domains"] = [merged]
    return doc


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            _with_domains(domains=["shop.example.com", "bad domain.example.com"]),
            "certbot_domains[0].domains[1] = 'bad domain.example.com': expected a DNS name of RFC "
            "1123 labels, e.g. shop.example.com (a wildcard only as the whole left-most label: "
            "*.example.com)",
        ),
        (
            _with_domains(domains=["shop.*.example.com"]),
            "certbot_domains[0].domains[0] = 'shop.*.example.com': expected a DNS name of RFC 1123 "
            "labels, e.g. shop.example.com (a wildcard only as the whole left-most label: "
            "*.example.com)",
        ),
        (
            _with_domains(cert_name="../../etc"),
            "certbot_domains[0].cert_name = '../../etc': expected a name of letters, digits, '.', "
            "'_' and '-' that starts with a letter or digit (at most 100 characters, no '/')",
        ),
        (
            _with_domains(domains=[]),
            "certbot_domains[0].domains = []: expected a non-empty list of DNS names",
        ),
        (
            _with_domains(webrot="/srv"),
            "certbot_domains[0].webrot: unknown key (did you mean 'webroot'?); known keys: "
            "domains, webroot, cert_name, profile",
        ),
        (
            dict(GOOD, certbot_renewal_day=31),
            "certbot_renewal_day: unknown key (did you mean 'certbot_renewal_days'?); known keys: "
            "certbot_enabled, certbot_email, certbot_install_method, certbot_renewal_days, "
            "certbot_domains, certbot_services",
        ),
        (
            dict(GOOD, certbot_renewal_days="31"),
            "certbot_renewal_days = '31': expected a whole number from 1 to 365",
        ),
        (
            dict(GOOD, certbot_enabled="yes please"),
            "certbot_enabled = 'yes please': expected true or false",
        ),
        (
            dict(GOOD, certbot_services=[{"name": "shop", "cert_source": "shopp"}]),
            "certbot_services[0].cert_source = 'shopp': expected one of this file's cert_name "
            "values: shop",
        ),
        (
            dict(GOOD, certbot_services=[{"name": "shop\r\nX: y", "cert_source": "shop"}]),
            "certbot_services[0].name = 'shop\\r\\nX: y': expected a name of letters, digits, '.', "
            "'_' and '-' that starts with a letter or digit (at most 100 characters, no '/')",
        ),
        (
            dict(GOOD, certbot_email="ops@example.com\nBcc: x@y.z"),
            "certbot_email = 'ops@example.com\\nBcc: x@y.z': expected a plain e-mail address such "
            "as ops@example.com (ASCII, no display name)",
        ),
        (
            # An explicit null used to drop the certificate silently: 0 certificate(s), OK.
            _with_domains(cert_name=None),
            "certbot_domains[0].cert_name = None: expected the certbot lineage name, e.g. "
            "foxycart-sandbox",
        ),
        (
            dict(GOOD, certbot_services=[{"name": None, "cert_source": "shop"}]),
            "certbot_services[0].name = None: expected the nginx symlink prefix, e.g. "
            "foxycart-sandbox",
        ),
        (
            dict(GOOD, certbot_services="shop"),
            "certbot_services = 'shop': expected a list of {name, cert_source} entries",
        ),
        (
            {k: v for k, v in GOOD.items() if k != "certbot_domains"},
            "certbot_domains = None: expected a list of {domains, webroot, cert_name} entries",
        ),
        (
            ["not", "a", "mapping"],
            "expected a YAML mapping of keys to values, found a list of 3 items (content not shown)",
        ),
    ],
)
def test_service_file_problems(tmp_path: Path, doc: object, expected: str) -> None:
    assert _service_problem(tmp_path, doc) == expected


def test_bad_service_file_name(tmp_path: Path) -> None:
    assert _service_problem(tmp_path, GOOD, name="shop sandbox") == (
        "service name (the file name) 'shop sandbox': expected a name of letters, digits, '.', "
        "'_' and '-' that starts with a letter or digit (at most 100 characters, no '/')"
    )


def test_every_problem_in_every_file_is_reported(tmp_path: Path) -> None:
    bad_a = dict(GOOD, certbot_renewal_days=0)
    bad_b = service("shop", "ok.example.com", "no_underscores.example.com")
    cfg = write_config(tmp_path, {"a": bad_a, "b": bad_b}, probe={"port": 0})
    code, lines = validate(cfg)
    assert code == 2
    assert lines == [
        f"{cfg}: probe.port = 0: expected a whole number from 1 to 65535",
        f"{tmp_path}/services.d/a.yaml: certbot_renewal_days = 0: expected a whole number "
        "from 1 to 365",
        f"{tmp_path}/services.d/b.yaml: certbot_domains[0].domains[1] = "
        "'no_underscores.example.com': expected a DNS name of RFC 1123 labels, e.g. "
        "shop.example.com (a wildcard only as the whole left-most label: *.example.com)",
    ]


def test_duplicate_cert_name_across_services(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        {
            "a": service("shop", "a.example.com", link="a"),
            "b": service("shop", "b.example.com", link="b"),
        },
    )
    assert only_problem(cfg) == (
        f"{tmp_path}/services.d/b.yaml: certbot_domains[0].cert_name = 'shop': expected a "
        f"cert_name not already used by {tmp_path}/services.d/a.yaml"
    )


def test_unknown_only_is_a_config_error_with_the_known_names(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    check = certkeeper(cfg, "check", "--only", "cert_renewal_shoop", "--no-jitter")
    assert check.returncode == 2
    assert check.stderr.strip().splitlines()[-1] == (
        f"--only = 'cert_renewal_shoop': expected a service file in {tmp_path}/services.d "
        "or a cert_name; services: shop; cert_names: shop"
    )
    status = certkeeper(cfg, "status", "--only", "shoop")
    assert status.returncode == 3


def test_only_accepts_the_cert_name_an_error_card_prints(tmp_path: Path) -> None:
    """The ERROR card says `certkeeper status --only <cert_name>`; it must work as printed
    when the lineage is named differently from its service file."""
    portal = service("partner-portal", "portal.example.com", link="partner")
    other = service("partner-api", "api.partner.example.com", link="partner-api")
    portal["certbot_domains"] += other["certbot_domains"]  # type: ignore[operator]
    portal["certbot_services"] += other["certbot_services"]  # type: ignore[operator]
    cfg = write_config(tmp_path, {"partner": portal, "shop": GOOD})
    proc = certkeeper(cfg, "check", "--dry-run", "--only", "partner-api")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "would issue partner-api (no certificate on disk; service partner)"
    )
    whole = certkeeper(cfg, "check", "--dry-run", "--only", "cert_renewal_partner")
    assert whole.stdout.count("would issue") == 2, whole.stdout


@pytest.mark.parametrize("value", ["local", "dns", None, "127.0.0.2", "app4.example.com"])
def test_probe_connect_host_accepts_local_dns_and_addresses(tmp_path: Path, value: object) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD}, probe={"connect_host": value})
    proc = certkeeper(cfg, "config", "show")
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)["probe"]["connect_host"]
    assert shown == (value or "local")


def test_probe_defaults_to_this_hosts_nginx(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    doc = yaml.safe_load(cfg.read_text())
    del doc["probe"]
    cfg.write_text(yaml.safe_dump(doc))
    proc = certkeeper(cfg, "config", "show")
    assert yaml.safe_load(proc.stdout)["probe"]["connect_host"] == "local"


def test_bad_probe_connect_host(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD}, probe={"connect_host": "not a host"})
    assert only_problem(cfg) == (
        f"{cfg}: probe.connect_host = 'not a host': expected local (this host's nginx, the "
        "default), dns (follow public DNS), a host name or an IP address, e.g. 127.0.0.1"
    )


def test_missing_notify_to_is_loud(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    warning = (
        f"WARNING: notify.to is not set in {cfg}: notices go nowhere, so no SUCCESS, ERROR or "
        "WARNING card reaches the team; set notify.to to the board's address"
    )
    validate = certkeeper(cfg, "config", "validate")
    assert validate.returncode == 0
    assert validate.stderr.strip() == warning
    check = certkeeper(cfg, "check", "--dry-run")
    assert check.returncode == 0
    assert check.stderr.strip() == warning
    assert check.stdout.startswith("would issue shop")
    told = write_config(tmp_path, {"shop": GOOD}, notify={"to": "board@example.com"})
    assert certkeeper(told, "config", "validate").stderr == ""


def test_status_reports_config_errors_as_unknown(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD}, probe={"port": -1})
    proc = certkeeper(cfg, "status")
    assert proc.returncode == 3
    assert proc.stderr.strip() == f"{cfg}: probe.port = -1: expected a whole number from 1 to 65535"
    assert "Traceback" not in proc.stderr


def test_config_found_through_environment(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    proc = certkeeper(None, "config", "validate", env={"CERTKEEPER_CONFIG": str(cfg)})
    assert proc.returncode == 0, proc.stderr
    assert str(cfg) in proc.stdout


def test_null_means_the_default_for_paths_too(tmp_path: Path) -> None:
    """`state_dir: null` used to end in an AssertionError traceback."""
    cfg = write_config(tmp_path, {"shop": GOOD}, state_dir=None, lock_file=None)
    proc = certkeeper(cfg, "config", "show")
    assert proc.returncode == 0, proc.stderr
    shown = yaml.safe_load(proc.stdout)
    assert (shown["state_dir"], shown["lock_file"]) == (
        "/var/lib/certkeeper",
        "/run/lock/certkeeper.lock",
    )


def test_config_show_prints_every_default(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    shown = yaml.safe_load(certkeeper(cfg, "config", "show").stdout)
    assert shown["nginx"]["timeout_seconds"] == 60
    assert shown["notify"]["warn_days"] == [30, 14, 7, 3, 1]
    assert shown["notify"]["smtp"]["password"] is None
    assert shown["services"][0]["certbot_renewal_days"] == 31
    assert "certbot_install_method" not in shown["services"][0]


def test_a_config_without_mode_is_active_so_upgrades_keep_renewing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"shop": GOOD})
    shown = yaml.safe_load(certkeeper(cfg, "config", "show").stdout)
    assert shown["mode"] == "active"
    cfg = write_config(tmp_path, {"shop": GOOD}, mode="shadow")
    assert yaml.safe_load(certkeeper(cfg, "config", "show").stdout)["mode"] == "shadow"
