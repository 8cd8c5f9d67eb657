"""The shipped certkeeper.service does its job under a booted systemd, on Debian 12 and 13.

`systemd-analyze verify` cannot see the sandbox: whether ProtectSystem=, ReadWritePaths=
and the rest let certbot write its webroot only shows when systemd builds the mount
namespace. So the .deb is installed into a debootstrap'd Debian 12 (certbot 2.1: no ARI,
no profiles) and Debian 13 (certbot 4.0: profiles, no ARI), each with its own certbot,
nginx-light, systemd and Python libraries from apt, which boots under systemd-nspawn.
On Debian 12 the package in the field (0.1.0) is upgraded to this one in place.

The container shares the host's network: certbot inside talks to pebble on the host's
loopback, pebble validates HTTP-01 against the container's nginx, certkeeper mails the
catcher on the host, and the host probes what the container's nginx serves.

Slow, never skipped: a missing host tool fails the test naming its apt package.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
import yaml

from certkeeper.probe import Target, probe
from certkeeper.x509info import read_file
from support.debroot import Container, chroot, copy_root, require
from support.peers import Pebble, age_lineage
from support.run import service
from support.smtp import Catcher, SMTPServer, free_port

# The first test to ask for a release's root (or the 0.1.0 package) pays for debootstrap
# (or the build) in its setup: far more than the suite's default 300 s on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SHOP = ("shop.example.test", "www.shop.example.test")
BOARD = "board+nspawn@boards.example.com"
V010_UNIT = Path(__file__).parent / "data/certkeeper.service.v0.1.0"
LINKS = (("fullchain.crt", "fullchain.pem"), ("ca-bundle.crt", "chain.pem"), ("key", "privkey.pem"))
# What a host where certbot never ran lacks. /etc/letsencrypt itself exists once the
# package is installed: it ships the deploy hook in /etc/letsencrypt/renewal-hooks.
NEVER_RAN = (
    "etc/letsencrypt/live",
    "etc/letsencrypt/accounts",
    "etc/nginx/certs",
    "var/lib/letsencrypt",
    "var/log/letsencrypt",
)


def installed(root: Path, deb: Path) -> Path:
    """`apt-get install ./certkeeper_*.deb` into `root`, as an operator would, its
    Depends from the release's own archive."""
    # /root, not /tmp: the container mounts a tmpfs on /tmp at boot.
    shutil.copy(deb, root / "root" / deb.name)
    install = chroot(root, "apt-get", "install", "-y", "-qq", f"/root/{deb.name}", timeout=900)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    # Debian's certbot.timer would renew behind the test's back; nginx's default site
    # takes :80 on the host's network.
    (root / "etc/systemd/system/certbot.timer").symlink_to("/dev/null")
    (root / "etc/nginx/sites-enabled/default").unlink()
    return root


@pytest.fixture(scope="module", params=["bookworm"])
def base_root(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    debian_root: Callable[[str], Path],
    deb: Path,
) -> Iterator[Path]:
    """A release (Debian 12 unless a test parametrizes it) with certkeeper installed."""
    require("debootstrap", "chroot", "systemd-nspawn", "nsenter", "pgrep", "pebble")
    folder = tmp_path_factory.mktemp(f"nspawn-{request.param}")
    yield installed(copy_root(debian_root(request.param), folder / "root"), deb)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def http_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory, http_port: int) -> Iterator[Pebble]:
    require("pebble", "pebble-challtestsrv")
    server = Pebble(tmp_path_factory.mktemp("pebble"), http_port).start()
    yield server
    server.stop()


@dataclass
class Host:
    """One booted container and the host-side peers it talks to."""

    root: Path
    box: Container
    pebble: Pebble
    smtp: SMTPServer
    http_port: int
    tls_port: int

    @property
    def le(self) -> Path:
        return self.root / "etc/letsencrypt"

    def setup(self, placeholder: bool) -> None:
        """nginx serving the webroot and the names, certkeeper's config, pebble trusted.

        placeholder=True: nginx reads /etc/nginx/certs/shop.* from the start, with a
        self-signed placeholder there until certkeeper's symlinks replace it (as the team's
        Ansible does). placeholder=False (a host where certbot never ran, no
        /etc/nginx/certs): the paths are variables, so nginx starts without the files and
        loads them per handshake, once they exist. nginx's workers do that loading, so
        this one test host runs them as root to read certbot's 0600 keys.
        """
        # certbot inside trusts pebble's HTTPS through the system store (Debian's
        # python3-certifi points there), as it would trust Let's Encrypt: the unit is untouched.
        shutil.copy(self.pebble.ca_bundle, self.root / "usr/local/share/ca-certificates/pebble.crt")
        updated = chroot(self.root, "update-ca-certificates")
        assert updated.returncode == 0, updated.stderr
        webroot = self.root / "var/www/letsencrypt"
        webroot.mkdir(parents=True, exist_ok=True)
        webroot.chmod(0o755)
        conf = self.root / "etc/nginx/conf.d"
        (conf / "acme.conf").write_text(
            f"server {{\n  listen 127.0.0.1:{self.http_port};\n"
            "  location /.well-known/acme-challenge/ {\n"
            "    root /var/www/letsencrypt;\n    default_type text/plain;\n  }\n}\n"
        )
        crt, key = "/etc/nginx/certs/shop.fullchain.crt", "/etc/nginx/certs/shop.key"
        if placeholder:
            certs = self.root / "etc/nginx/certs"
            certs.mkdir(parents=True)
            cert = trustme.CA().issue_cert(*SHOP)
            (certs / "shop.fullchain.crt").write_bytes(
                b"".join(b.bytes() for b in cert.cert_chain_pems)
            )
            (certs / "shop.key").write_bytes(cert.private_key_pem.bytes())
            (certs / "shop.key").chmod(0o600)
            paths = f"  ssl_certificate {crt};\n  ssl_certificate_key {key};\n"
            maps = ""
        else:
            paths = "  ssl_certificate $shop_crt;\n  ssl_certificate_key $shop_key;\n"
            maps = (
                f"map $ssl_server_name $shop_crt {{ default {crt}; }}\n"
                f"map $ssl_server_name $shop_key {{ default {key}; }}\n"
            )
            main = self.root / "etc/nginx/nginx.conf"
            main.write_text(main.read_text().replace("user www-data;", "user root;"))
        (conf / "shop.conf").write_text(
            maps + f"server {{\n  listen 127.0.0.1:{self.tls_port} ssl;\n"
            f"  server_name {' '.join(SHOP)};\n" + paths + "  location / { return 204; }\n}\n"
        )
        config = {
            "hostname": "nspawn",
            "certbot": {"extra_args": ["--server", self.pebble.directory], "timeout_seconds": 120},
            "probe": {"connect_host": "127.0.0.1", "port": self.tls_port, "timeout_seconds": 3},
            "notify": {
                "to": BOARD,
                "from": "operations@example.com",
                "smtp": {"host": "127.0.0.1", "port": self.smtp.port, "timeout_seconds": 5},
            },
        }
        etc = self.root / "etc/certkeeper"
        (etc / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (etc / "services.d/shop.yaml").write_text(
            yaml.safe_dump(service("shop", *SHOP), sort_keys=False)
        )

    def start_service(self) -> None:
        """`systemctl start certkeeper.service`, as the timer does; blocks until it ended."""
        self.box.systemctl("start", "certkeeper.service", timeout=400)

    def disk_serial(self) -> int | None:
        path = self.le / "live/shop/cert.pem"
        return read_file(path).serial if path.exists() else None

    def served_serial(self, expect: int | None = None, timeout: float = 10) -> int | None:
        """What nginx in the container serves for SHOP[0], probed from the host."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe(Target(SHOP[0], "127.0.0.1", self.tls_port), timeout=3)
            serial = result.cert.serial if result.cert else None
            if expect is None or serial == expect or time.monotonic() > deadline:
                return serial
            time.sleep(0.2)

    def subjects(self) -> list[str]:
        return [str(m["subject"]) for m in self.smtp.catcher.messages]

    def mail(self, subject_part: str) -> EmailMessage:
        found = [m for m in self.smtp.catcher.messages if subject_part in str(m["subject"])]
        assert found, self.subjects()
        return found[-1]

    def assert_issued_and_served(self) -> int:
        live = self.le / "live/shop"
        assert (live / "cert.pem").exists(), self.diagnose()
        renewal = (self.le / "renewal/shop.conf").read_text()
        assert "authenticator = webroot" in renewal
        assert "/var/www/letsencrypt" in renewal
        for suffix, target in LINKS:
            link = self.root / f"etc/nginx/certs/shop.{suffix}"
            assert link.is_symlink(), link
            assert os.readlink(link) == f"/etc/letsencrypt/live/shop/{target}"
        issued = self.disk_serial()
        assert issued is not None
        assert self.served_serial(expect=issued) == issued
        return issued

    def diagnose(self) -> str:
        return (
            f"certkeeper.service: {self.box.show('certkeeper.service', 'Result')}\n"
            f"{self.box.journal('certkeeper.service')}\nmails: {self.subjects()}"
        )


@contextlib.contextmanager
def booted_host(root: Path, tmp_path: Path, pebble: Pebble, http_port: int) -> Iterator[Host]:
    smtp = SMTPServer(Catcher()).start()
    box = Container(root, f"ck-{secrets.token_hex(4)}", tmp_path / "nspawn.log")
    try:
        yield Host(root, box, pebble, smtp, http_port, free_port())
    finally:
        box.stop()
        smtp.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def host(base_root: Path, tmp_path: Path, pebble: Pebble, http_port: int) -> Iterator[Host]:
    root = copy_root(base_root, tmp_path / "root")
    with booted_host(root, tmp_path, pebble, http_port) as world:
        yield world


def wait_for_run(box: Container, unit: str, timeout: float = 300) -> str:
    """Wait until `unit` has been started once and has ended; return its Result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = box.show(unit, "InactiveExitTimestampMonotonic") not in ("", "0")
        if started and box.show(unit, "ActiveState") in ("inactive", "failed"):
            return box.show(unit, "Result")
        time.sleep(0.5)
    raise AssertionError(f"{unit} did not run within {timeout}s:\n{box.journal()}")


BOTH = pytest.mark.parametrize("base_root", ["bookworm", "trixie"], indirect=True)


@BOTH
def test_shipped_unit_issues_then_renews_through_the_webroot(host: Host) -> None:
    host.setup(placeholder=True)
    box = host.box.boot()
    # This test starts the service itself, as the timer would.
    box.systemctl("stop", "certkeeper.timer")
    validate = box.run("certkeeper", "config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert "WARNING" not in validate.stderr, validate.stderr
    placeholder = host.served_serial()
    assert placeholder is not None

    host.start_service()
    assert box.show("certkeeper.service", "Result") == "success", host.diagnose()
    issued = host.assert_issued_and_served()
    assert issued != placeholder
    assert host.mail("Cert issued for shop.example.test")["to"] == BOARD
    assert not [s for s in host.subjects() if "ERROR" in s]

    # The next day, 85 days on for the certificate: aged on disk and served by nginx,
    # and certkeeper's last attempt a day back, so the (real) 20-hour guard lets it go.
    aged = age_lineage(host.le, "shop", days_left=5.5)
    state_file = host.root / "var/lib/certkeeper/state.json"
    state = json.loads(state_file.read_text())
    yesterday = datetime.now(UTC) - timedelta(hours=25)
    state["certs"]["shop"]["last_attempt"] = yesterday.strftime("%Y-%m-%dT%H:%M:%SZ")
    state_file.write_text(json.dumps(state))
    assert box.systemctl("reload", "nginx").returncode == 0
    assert host.served_serial(expect=aged) == aged
    host.smtp.catcher.raw.clear()

    host.start_service()
    assert box.show("certkeeper.service", "Result") == "success", host.diagnose()
    renewed = host.disk_serial()
    assert renewed not in (None, issued, aged)
    assert host.served_serial(expect=renewed) == renewed
    renewal = host.mail("Cert renewed for shop.example.test")
    assert renewal["to"] == BOARD
    assert str(renewal["subject"]).startswith("[SUCCESS] nspawn "), renewal["subject"]
    assert not [s for s in host.subjects() if "ERROR" in s]


@BOTH
def test_first_timer_run_on_a_host_where_certbot_never_ran(host: Host) -> None:
    for path in NEVER_RAN:
        assert not (host.root / path).exists(), path
    host.setup(placeholder=False)
    # The package enabled certkeeper.timer. Fire it 2 s after boot instead of at the
    # calendar time; everything else (Unit= link, the service it starts) is the shipped one.
    dropin = host.root / "etc/systemd/system/certkeeper.timer.d/now.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text("[Timer]\nOnCalendar=\nOnActiveSec=2s\nRandomizedDelaySec=0\n")
    box = host.box.boot()

    assert wait_for_run(box, "certkeeper.service") == "success", host.diagnose()
    assert box.show("certkeeper.timer", "LastTriggerUSecMonotonic") not in ("", "0")
    host.assert_issued_and_served()
    assert host.mail("Cert issued for shop.example.test")["to"] == BOARD
    assert not [s for s in host.subjects() if "ERROR" in s]


def test_v010_unit_fails_where_the_shipped_one_works(host: Host) -> None:
    """The unit certkeeper 0.1.0 shipped, on the same fresh host: it cannot even start,
    and once certbot's folders exist, certbot cannot write the webroot."""
    host.setup(placeholder=False)
    override = host.root / "etc/systemd/system/certkeeper.service"
    override.write_text(V010_UNIT.read_text())
    box = host.box.boot()
    box.systemctl("stop", "certkeeper.timer")
    # config validate predicts it from the installed unit.
    validate = box.run("certkeeper", "config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert (
        "WARNING: /var/www/letsencrypt (webroot of shop in shop.yaml): the installed "
        "certkeeper.service cannot write it (ProtectSystem=strict makes the whole file "
        "system read-only); add it to ReadWritePaths= in a drop-in: "
        "systemctl edit certkeeper.service"
    ) in validate.stderr.splitlines()

    host.start_service()
    assert box.show("certkeeper.service", "Result") == "exit-code"
    assert box.show("certkeeper.service", "ExecMainStatus") == "226"
    assert "status=226/NAMESPACE" in box.journal("certkeeper.service")
    assert not (host.le / "live").exists()
    assert host.subjects() == []

    # certbot's folders made by hand (or by certbot run once outside the unit).
    for path in ("etc/nginx/certs", "var/lib/letsencrypt", "var/log/letsencrypt"):
        (host.root / path).mkdir(mode=0o700)
    box.systemctl("reset-failed", "certkeeper.service")
    host.start_service()
    assert box.show("certkeeper.service", "Result") == "exit-code", host.diagnose()
    assert not (host.le / "live/shop").exists()
    error = host.mail("Cert issuance FAILED for shop.example.test")
    body = error.get_body(("plain",))
    assert body is not None
    assert "Read-only file system" in body.get_content(), body.get_content()


@pytest.fixture
def field_host(
    debian_root: Callable[[str], Path],
    old_deb: Path,
    tmp_path: Path,
    pebble: Pebble,
    http_port: int,
) -> Iterator[Host]:
    """Debian 12 with the release in the field, 0.1.0 (its libraries bundled), installed."""
    require("systemd-nspawn", "nsenter", "pgrep", "pebble")
    root = installed(copy_root(debian_root("bookworm"), tmp_path / "root"), old_deb)
    assert (root / "usr/lib/certkeeper/site").is_dir()
    with booted_host(root, tmp_path, pebble, http_port) as world:
        yield world


def waiting(box: Container) -> list[str]:
    listed = box.run("certkeeper", "notify", "outbox")
    assert listed.returncode == 0, listed.stderr
    return [line for line in listed.stdout.splitlines() if "Cert issued" in line]


def upgrade(box: Container, deb: Path) -> None:
    """As Ansible's apt module upgrades: non-interactive, edited conffiles kept."""
    shutil.copy(deb, box.root / "root" / deb.name)
    proc = box.run(
        "apt-get", "install", "-y", "-qq",
        "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
        f"/root/{deb.name}",
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def leave_state_and_a_waiting_notice(host: Host) -> tuple[int, str]:
    """0.1.0 runs once with the mail relay down: the certificate is issued and its notice
    waits in the outbox. Then the administrator fixes the relay's port in config.yaml, so
    that conffile differs from the one 0.1.0 shipped. Returns the serial and the config."""
    host.setup(placeholder=True)
    config = host.root / "etc/certkeeper/config.yaml"
    relay_up = config.read_text()
    relay_down = yaml.safe_load(relay_up)
    relay_down["notify"]["smtp"]["port"] = free_port()
    config.write_text(yaml.safe_dump(relay_down, sort_keys=False))
    box = host.box.boot()
    assert box.systemctl("is-enabled", "certkeeper.timer").stdout.strip() == "enabled"
    host.start_service()
    issued = host.assert_issued_and_served()
    assert host.subjects() == []
    assert len(waiting(box)) == 1, box.run("certkeeper", "notify", "outbox").stdout
    config.write_text(relay_up)
    assert "shop" in json.loads((host.root / "var/lib/certkeeper/state.json").read_text())["certs"]
    return issued, relay_up


def remove_then_purge(host: Host, config_text: str) -> None:
    box = host.box
    remove = box.run("apt-get", "remove", "-y", "-qq", "certkeeper", timeout=300)
    assert remove.returncode == 0, remove.stderr
    assert not (host.root / "usr/bin/certkeeper").exists()
    assert not (host.root / "usr/share/certkeeper").exists()
    assert (host.root / "etc/certkeeper/config.yaml").read_text() == config_text
    assert (host.root / "var/lib/certkeeper/state.json").exists()
    assert box.systemctl("is-active", "certkeeper.timer").stdout.strip() == "inactive"

    purge = box.run("apt-get", "purge", "-y", "-qq", "certkeeper", timeout=300)
    assert purge.returncode == 0, purge.stderr
    # The package's conffiles (and the .dpkg-dist the upgrade left) go; the service files
    # the administrator wrote are theirs, as certbot's lineage is certbot's.
    etc = host.root / "etc/certkeeper"
    left = sorted(str(p.relative_to(etc)) for p in etc.rglob("*") if p.is_file())
    assert left == ["services.d/shop.yaml"], left
    assert not (host.root / "var/lib/certkeeper").exists()
    assert not (host.root / "etc/cron.d/certkeeper").exists()
    assert not (host.root / "etc/letsencrypt/renewal-hooks/deploy/certkeeper.sh").exists()
    assert (host.le / "live/shop/cert.pem").exists()


def test_upgrade_from_0_1_0_keeps_state_outbox_config_and_timer(
    deb: Path, field_host: Host
) -> None:
    host = field_host
    issued, config_text = leave_state_and_a_waiting_notice(host)
    box = host.box

    upgrade(box, deb)
    version = box.run("certkeeper", "--version")
    assert version.stdout.strip() == "certkeeper, version 0.2.0", version.stdout + version.stderr
    assert not (host.root / "usr/lib/certkeeper").exists()
    assert (host.root / "etc/certkeeper/config.yaml").read_text() == config_text
    assert "shop" in json.loads((host.root / "var/lib/certkeeper/state.json").read_text())["certs"]
    assert box.systemctl("is-enabled", "certkeeper.timer").stdout.strip() == "enabled"
    assert box.systemctl("is-active", "certkeeper.timer").stdout.strip() == "active"
    assert len(waiting(box)) == 1

    # The next run delivers the waiting notice, once; the one after sends nothing again.
    host.start_service()
    assert box.show("certkeeper.service", "Result") == "success", host.diagnose()
    host.start_service()
    told = [s for s in host.subjects() if "Cert issued for shop.example.test" in s]
    assert len(told) == 1, host.subjects()
    assert waiting(box) == []
    assert host.disk_serial() == issued

    remove_then_purge(host, config_text)
