"""What the installed certkeeper.service lets the job write, and what `config validate` says.

The pure rules are checked against systemd.exec(5); the shipped unit and the one
v0.1.0 shipped are read from their files, so a change to either is seen here. Whether
systemd really enforces what these rules predict is proven in tests/packaging/test_nspawn.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.sandbox import ROOT_ENV, UnitSandbox, can_write, installed_unit, parse
from support.run import certkeeper, service, write_config

TOP = Path(__file__).parents[2]
SHIPPED = (TOP / "systemd/certkeeper.service").read_text()
V010 = (TOP / "tests/packaging/data/certkeeper.service.v0.1.0").read_text()


@pytest.mark.parametrize(
    "path",
    [
        "/var/www/letsencrypt",  # the guide's webroot: writable by construction now
        "/var/www/letsencrypt/.well-known/acme-challenge/token",
        "/srv/www/shop",
        "/opt/shop/public",
        "/etc/letsencrypt/live/shop",
        "/etc/nginx/certs",
        "/var/lib/letsencrypt",
        "/var/log/letsencrypt",
        "/var/lib/certkeeper",
        "/run/lock",
    ],
)
def test_shipped_unit_writes_every_default_path(path: str) -> None:
    assert can_write(parse(SHIPPED), path).writable


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/nginx/sites-enabled", "ProtectSystem=full makes /etc read-only"),
        ("/etc/acme", "ProtectSystem=full makes /etc read-only"),
        ("/usr/share/nginx/html", "ProtectSystem=full makes /usr read-only"),
        ("/home/shop/www", "ProtectHome=yes makes /home inaccessible"),
        ("/root/webroot", "ProtectHome=yes makes /root inaccessible"),
        ("/tmp/webroot", "PrivateTmp=yes gives the service its own /tmp, emptied after each run"),
    ],
)
def test_shipped_unit_blocks_and_says_why(path: str, reason: str) -> None:
    verdict = can_write(parse(SHIPPED), path)
    assert not verdict.writable
    assert verdict.reason == reason
    assert verdict.hint


def test_v010_unit_blocked_the_guides_webroot() -> None:
    """ProtectSystem=strict without /var/www/letsencrypt fails every HTTP-01 write."""
    verdict = can_write(parse(V010), "/var/www/letsencrypt")
    assert not verdict.writable
    assert verdict.reason == "ProtectSystem=strict makes the whole file system read-only"
    assert can_write(parse(V010), "/etc/letsencrypt").writable


def test_most_specific_rule_wins() -> None:
    unit = UnitSandbox(
        protect_system="strict",
        read_write=("/var/www",),
        read_only=("/var/www/static",),
    )
    assert can_write(unit, "/var/www/acme").writable
    assert not can_write(unit, "/var/www/static/x").writable
    assert can_write(unit, "/dev/shm").writable  # API file systems stay as they are
    assert not can_write(unit, "/var/wwwx").writable  # a prefix of the name is not a parent
    assert can_write(unit, "/var/www/../www/acme").writable  # normalised


def test_same_path_most_restrictive_wins() -> None:
    unit = UnitSandbox(read_write=("/srv/a",), read_only=("/srv/a",))
    assert not can_write(unit, "/srv/a").writable


def test_hidden_subtrees_beat_deeper_read_write_entries() -> None:
    """systemd drops mounts below an inaccessible one, so listing them does not help."""
    unit = UnitSandbox(
        protect_home="yes",
        private_tmp=True,
        inaccessible=("/srv/secret",),
        read_write=("/home/shop", "/srv/secret/www", "/tmp/www"),
    )
    assert not can_write(unit, "/home/shop").writable
    assert not can_write(unit, "/tmp/www").writable
    verdict = can_write(unit, "/srv/secret/www")
    assert not verdict.writable and verdict.reason == "InaccessiblePaths=/srv/secret hides it"


def test_protect_home_read_only_can_be_relaxed() -> None:
    unit = UnitSandbox(protect_home="read-only", read_write=("/home/shop",))
    assert can_write(unit, "/home/shop/www").writable
    assert not can_write(unit, "/home/other").writable


def test_no_hardening_writes_everything() -> None:
    assert can_write(UnitSandbox(), "/etc/anything").writable
    assert not can_write(UnitSandbox(), "relative/path").writable


def test_parse_merges_like_systemd() -> None:
    unit = parse(
        "[Unit]\nReadWritePaths=/ignored-outside-service\n"
        "[Service]\nProtectSystem=strict\nReadWritePaths=/a -/b\n"
        "ReadWritePaths=+/c \\\n  -+/d\n"
        "ReadOnlyPaths=/r\n# ReadWritePaths=/comment\n; ReadWritePaths=/comment2\n"
        "ProtectHome=read-only\nPrivateTmp=true\n"
    )
    assert unit.protect_system == "strict"
    assert unit.read_write == ("/a", "/b", "/c", "/d")
    assert unit.read_only == ("/r",)
    assert unit.protect_home == "read-only" and unit.private_tmp
    later = parse("[Service]\nReadWritePaths=\nReadWritePaths=/e\nProtectSystem=no\n", unit)
    assert later.read_write == ("/e",)  # an empty assignment resets the list
    assert later.read_only == ("/r",)
    assert later.protect_system == "no"
    assert parse("[Service]\nProtectSystem=yes\nProtectHome=on\n").protect_home == "yes"


def test_parse_ignores_what_systemd_would_reject() -> None:
    unit = parse(
        "[Service]\nProtectSystem=full\nProtectSystem=sideways\n"
        'ReadWritePaths="/unterminated\nReadWritePaths=relative %h/www /ok\n'
        "garbage line without equals\n[Broken\nReadWritePaths=/after-broken-header\n"
        "[Service]\nPrivateTmp=maybe\n\x00\xff=\x01\n"
    )
    assert unit.protect_system == "full"
    assert unit.read_write == ("/ok",)
    assert unit.private_tmp is False


@given(st.text(max_size=400))
def test_parse_never_raises(text: str) -> None:
    unit = parse(text)
    for path in ("/etc/x", "/var/www", "/"):
        can_write(unit, path)


def _install(root: Path, folder: str, name: str, text: str) -> Path:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_installed_unit_search_order_and_drop_ins(tmp_path: Path) -> None:
    assert installed_unit(tmp_path) is None  # a cron host: nothing to warn about
    vendor = _install(tmp_path, "lib/systemd/system", "certkeeper.service", SHIPPED)
    assert installed_unit(tmp_path) == parse(SHIPPED, source=vendor)
    # Drop-ins from every folder in file-name order; /etc hides /lib's file of the same name.
    _install(tmp_path, "lib/systemd/system/certkeeper.service.d", "10-a.conf",
             "[Service]\nReadWritePaths=/from-lib\n")  # fmt: skip
    _install(tmp_path, "lib/systemd/system/certkeeper.service.d", "20-b.conf",
             "[Service]\nReadWritePaths=/lib-20\n")  # fmt: skip
    _install(tmp_path, "etc/systemd/system/certkeeper.service.d", "20-b.conf",
             "[Service]\nReadWritePaths=/etc-20\n")  # fmt: skip
    _install(tmp_path, "run/systemd/system/certkeeper.service.d", "30-c.conf",
             "[Service]\nReadWritePaths=\nReadWritePaths=/only\n")  # fmt: skip
    _install(tmp_path, "etc/systemd/system/certkeeper.service.d", "not-a-drop-in.txt",
             "[Service]\nProtectSystem=no\n")  # fmt: skip
    unit = installed_unit(tmp_path)
    assert unit is not None and unit.read_write == ("/only",)
    assert [p.name for p in unit.files] == [
        "certkeeper.service",
        "10-a.conf",
        "20-b.conf",
        "30-c.conf",
    ]
    assert unit.files[2].parts[-4:-2] == ("systemd", "system")
    assert "etc" in unit.files[2].parts
    # An administrator's copy in /etc replaces the vendor unit entirely.
    _install(tmp_path, "etc/systemd/system", "certkeeper.service", V010)
    etc_unit = installed_unit(tmp_path)
    assert etc_unit is not None and etc_unit.protect_system == "strict"


def test_masked_or_unreadable_unit_counts_as_absent(tmp_path: Path) -> None:
    _install(tmp_path, "lib/systemd/system", "certkeeper.service", SHIPPED)
    mask = tmp_path / "etc/systemd/system/certkeeper.service"
    mask.parent.mkdir(parents=True)
    mask.symlink_to("/dev/null")
    assert installed_unit(tmp_path) is None
    mask.unlink()
    mask.mkdir()  # a folder where the file should be: ignored, the vendor unit counts
    vendor = tmp_path / "lib/systemd/system/certkeeper.service"
    assert installed_unit(tmp_path) == parse(SHIPPED, source=vendor)


# ---------------------------------------------------------------- config validate


def _host_config(tmp_path: Path, webroot: str, **certbot: object) -> Path:
    """A config whose paths are the real host defaults (validate only reads them)."""
    return write_config(
        tmp_path,
        {
            "shop": service("shop", "shop.example.com", webroot=webroot),
            "api": service("api", "api.example.com"),
        },
        state_dir="/var/lib/certkeeper",
        lock_file="/run/lock/certkeeper.lock",
        certbot={"config_dir": "/etc/letsencrypt", **certbot},
        nginx={"certs_dir": "/etc/nginx/certs"},
        notify={"to": "board@example.com"},
    )


def test_validate_warns_about_a_webroot_the_installed_unit_cannot_write(tmp_path: Path) -> None:
    root = tmp_path / "sysroot"
    _install(root, "lib/systemd/system", "certkeeper.service", SHIPPED)
    cfg = _host_config(tmp_path / "conf", "/etc/acme-webroot")
    proc = certkeeper(cfg, "config", "validate", env={ROOT_ENV: str(root)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"OK: {cfg}: 2 service(s)")
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING: /etc/acme-webroot (webroot of shop in shop.yaml): the installed "
        "certkeeper.service cannot write it (ProtectSystem=full makes /etc read-only); "
        "add it to ReadWritePaths= in a drop-in: systemctl edit certkeeper.service"
    ]

    # The administrator follows the advice: the warning goes.
    _install(root, "etc/systemd/system/certkeeper.service.d", "webroot.conf",
             "[Service]\nReadWritePaths=/etc/acme-webroot\n")  # fmt: skip
    proc = certkeeper(cfg, "config", "validate", env={ROOT_ENV: str(root)})
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr


def test_validate_checks_certbot_dirs_moved_by_extra_args(tmp_path: Path) -> None:
    root = tmp_path / "sysroot"
    _install(root, "lib/systemd/system", "certkeeper.service", V010)
    cfg = _host_config(
        tmp_path / "conf",
        "/var/www/letsencrypt",
        extra_args=["--work-dir=/srv/certbot/work", "--logs-dir", "/var/log/letsencrypt"],
    )
    proc = certkeeper(cfg, "config", "validate", env={ROOT_ENV: str(root)})
    assert proc.returncode == 0, proc.stderr
    strict = "ProtectSystem=strict makes the whole file system read-only"
    assert [
        line.split(":")[1].strip() for line in proc.stderr.splitlines() if "WARNING" in line
    ] == [
        "/var/www/letsencrypt (webroot of api in api.yaml)",
        "/srv/certbot/work (certbot work dir)",
    ]
    assert strict in proc.stderr and "Traceback" not in proc.stderr


def test_validate_without_an_installed_unit_says_nothing(tmp_path: Path) -> None:
    cfg = _host_config(tmp_path / "conf", "/etc/acme-webroot")
    proc = certkeeper(cfg, "config", "validate", env={ROOT_ENV: str(tmp_path / "empty")})
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
