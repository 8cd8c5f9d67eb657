"""One host's world for the e2e suite: certkeeper's config, nginx, pebble, an SMTP catcher.

Shared by tests/e2e (through its fixtures) and kept here, in an importable module,
so test files never import each other or a conftest by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from certkeeper.probe import Target, probe
from support.peers import Nginx, Pebble, age_lineage, certbot_path, world_readable_dir
from support.run import certkeeper, service, write_config
from support.smtp import Catcher, SMTPServer

BOARD = "board+e2e@boards.example.com"


@dataclass
class Host:
    root: Path
    pebble: Pebble
    nginx: Nginx
    smtp: SMTPServer
    placeholder: trustme.CA
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    certbot_command: list[str] = field(default_factory=lambda: [certbot_path()])
    certbot_timeout: float = 120
    nginx_test_command: list[str] | None = None
    nginx_reload_command: list[str] | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)

    @property
    def le(self) -> Path:
        return self.root / "letsencrypt"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def env(self) -> dict[str, str]:
        return {"REQUESTS_CA_BUNDLE": str(self.pebble.ca_bundle)}

    def add(
        self,
        name: str,
        *domains: str,
        renewal_days: int | None = 31,
        profile: str | None = None,
        site: bool = True,
    ) -> None:
        """A service file; with site=True also its TLS server block (with a placeholder
        certificate), as Ansible deploys it. site=False is the usual first-issuance state:
        the server block comes once the certificate exists. renewal_days=None leaves
        certbot_renewal_days out of the file (the default, 31)."""
        doc = service(
            name, *domains, webroot=str(self.nginx.webroot), renewal_days=renewal_days or 31
        )
        if renewal_days is None:
            del doc["certbot_renewal_days"]
        if profile is not None:
            doc["certbot_domains"][0]["profile"] = profile  # type: ignore[index]
        self.services[name] = doc
        if site:
            self.nginx.add_site(name, domains, self.placeholder)
            self.nginx.reload()
        self.write()

    def write(self) -> None:
        write_config(
            self.root,
            self.services,
            certbot={
                "command": self.certbot_command,
                "config_dir": str(self.le),
                "extra_args": [
                    "--server",
                    self.pebble.directory,
                    "--work-dir",
                    str(self.root / "work"),
                    "--logs-dir",
                    str(self.root / "logs"),
                ],
                "timeout_seconds": self.certbot_timeout,
            },
            nginx={
                "test_command": self.nginx_test_command or self.nginx.test_command,
                "reload_command": self.nginx_reload_command or self.nginx.reload_command,
                "certs_dir": str(self.nginx.certs_dir),
            },
            probe={
                "port": self.nginx.tls_port,
                # Where this nginx serves the HTTP-01 challenge (doctor fetches there).
                "http_port": self.nginx.http_port,
                "timeout_seconds": 3,
            },
            notify={
                "to": BOARD,
                "from": "operations@example.com",
                "smtp": {"host": "127.0.0.1", "port": self.smtp.port, "timeout_seconds": 5},
            },
            lock_timeout_seconds=120,
            # pebble's own HTTPS is signed by a test CA; ARI requests must trust it too.
            # CAA is asked of challtestsrv's DNS, which pebble itself resolves through.
            **{
                "ari": {"ca_file": str(self.pebble.ca_bundle)},
                "dns": {"nameserver": self.pebble.nameserver},
                **self.extra_config,
            },
        )

    def run(self, *args: str, timeout: float = 300) -> Any:
        return certkeeper(self.config, *args, env=self.env, timeout=timeout)

    def run_env(self, *args: str, **env: str) -> Any:
        """certkeeper with extra environment, e.g. RENEWED_LINEAGE for the deploy hook."""
        return certkeeper(self.config, *args, env={**self.env, **env})

    def check(self, *args: str) -> Any:
        return self.run("check", "--no-jitter", *args)

    @property
    def check_argv(self) -> list[str]:
        """`certkeeper check --no-jitter` for Popen, to run several at once."""
        return [
            sys.executable,
            "-m",
            "certkeeper",
            "--config",
            str(self.config),
            "check",
            "--no-jitter",
        ]

    def certbot_renew(self, *extra: str, force: bool = True) -> subprocess.CompletedProcess[str]:
        """certbot renewing on its own (its timer, or a person): no certkeeper parent.
        Forced by default; force=False lets certbot's own "due?" rule decide."""
        env = {k: v for k, v in os.environ.items() if k != "CERTKEEPER_PARENT_PID"}
        env.update(self.env)
        return subprocess.run(
            [
                *self.certbot_command,
                "renew",
                "--cert-name",
                "shop",
                *(["--force-renewal"] if force else []),
                "--no-random-sleep-on-renew",
                "--non-interactive",
                "--config-dir",
                str(self.le),
                "--work-dir",
                str(self.root / "work"),
                "--logs-dir",
                str(self.root / "logs"),
                "--server",
                self.pebble.directory,
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            check=False,
        )

    def settle(self, timeout: float = 10) -> None:
        """Wait until no old nginx worker is still draining after a reload."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            draining = False
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    if b"is shutting down" in cmdline.read_bytes():
                        draining = True
                        break
                except OSError:
                    continue
            if not draining:
                return
            time.sleep(0.05)

    def served_serial(self, domain: str) -> int | None:
        self.settle()
        result = probe(Target(domain, "127.0.0.1", self.nginx.tls_port), timeout=3)
        return result.cert.serial if result.cert else None

    def disk_serial(self, cert_name: str) -> int | None:
        from certkeeper.x509info import read_file

        path = self.le / "live" / cert_name / "cert.pem"
        return read_file(path).serial if path.exists() else None

    def archive_count(self, cert_name: str) -> int:
        folder = self.le / "archive" / cert_name
        return len(list(folder.glob("cert*.pem"))) if folder.exists() else 0

    def state(self) -> dict[str, Any]:
        path = self.root / "state" / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def edit_state(self, cert_name: str, **values: Any) -> None:
        """Move certkeeper's memory of one certificate, as if time had passed."""
        path = self.root / "state" / "state.json"
        doc = json.loads(path.read_text())
        for key, value in values.items():
            target = doc["certs"][cert_name]
            *parents, leaf = key.split("__")
            for parent in parents:
                target = target[parent]
            target[leaf] = value
        path.write_text(json.dumps(doc))

    @property
    def mails(self) -> list[Any]:
        return self.smtp.catcher.messages

    def certbot_log(self) -> str:
        path = self.root / "logs" / "letsencrypt.log"
        return path.read_text() if path.exists() else ""


@contextlib.contextmanager
def world(root: Path, pebble: Pebble, http_port: int) -> Iterator[Host]:
    """One host's world: its own nginx (serving the challenge path on `http_port`, where
    pebble validates), an SMTP catcher and a config; stopped whatever the test does."""
    webroot = world_readable_dir("ck-webroot-")
    nginx = Nginx(root / "nginx", webroot, root / "nginx-certs", http_port).start()
    smtp = SMTPServer(Catcher()).start()
    host = Host(root, pebble, nginx, smtp, trustme.CA())
    host.write()
    try:
        yield host
    finally:
        nginx.stop()
        smtp.stop()
        shutil.rmtree(webroot, ignore_errors=True)


def dump(proc: Any) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


SHOP = ("shop.example.test", "www.shop.example.test")


def issue(host: Host, name: str = "shop", domains: tuple[str, ...] = SHOP) -> None:
    host.add(name, *domains)
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    host.smtp.catcher.raw.clear()


def make_due(host: Host, name: str = "shop", days_left: float = 5.5) -> int:
    """Move the calendar 85 days on for this certificate: an aged certificate with the same
    key and names, served by nginx, and certkeeper's memory of its last attempt aged too."""
    serial = age_lineage(host.le, name, days_left=days_left)
    path = host.root / "state" / "state.json"
    doc = json.loads(path.read_text())
    doc["certs"][name]["last_attempt"] = "2000-01-01T00:00:00Z"
    path.write_text(json.dumps(doc))
    host.nginx.reload()
    assert host.served_serial(SHOP[0]) == serial
    return serial
