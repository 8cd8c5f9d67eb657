"""`make demo`: certkeeper's whole job on a local sandbox, in under a minute.

Starts pebble (Let's Encrypt's test ACME server) with pebble-challtestsrv, nginx
and an SMTP catcher on free loopback ports; issues certificates for two demo
services with `certkeeper check`; makes one of them due; renews it; prints the
SUCCESS notice the catcher received; and tears everything down, also on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests"))

NEEDED = {"pebble": "pebble", "pebble-challtestsrv": "pebble", "nginx": "nginx-light"}


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def ensure_peers() -> None:
    missing = sorted({pkg for cmd, pkg in NEEDED.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() == 0:
        banner(f"installing {' '.join(missing)} (apt)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, timeout=900
        )
        return
    sys.exit(f"make demo needs: sudo apt-get install -y {' '.join(missing)}")


def certkeeper(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "certkeeper", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    shown = f"$ certkeeper {' '.join(args)}    # exit {proc.returncode}"
    print(shown)
    for line in (proc.stdout + proc.stderr).rstrip().splitlines():
        print(f"  {line}")
    return proc


def main() -> int:
    ensure_peers()
    import trustme

    from support.peers import Nginx, Pebble, age_lineage, certbot_path, world_readable_dir
    from support.run import service, write_config
    from support.smtp import Catcher, SMTPServer, free_port

    started = time.monotonic()
    sandbox = Path(tempfile.mkdtemp(prefix="certkeeper-demo-"))
    webroot = world_readable_dir("certkeeper-demo-webroot-")
    print(f"sandbox: {sandbox}")
    running: list[object] = []

    def stop_all(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_all)
    try:
        banner("starting pebble, nginx and an SMTP catcher on loopback")
        http_port = free_port()
        pebble = Pebble(sandbox, http_port).start()
        running.append(pebble)
        nginx = Nginx(sandbox / "nginx", webroot, sandbox / "nginx-certs", http_port).start()
        running.append(nginx)
        catcher = Catcher()
        smtp = SMTPServer(catcher).start()
        running.append(smtp)
        print(
            f"pebble https://127.0.0.1:{pebble.port}/dir, nginx TLS on 127.0.0.1:"
            f"{nginx.tls_port}, SMTP on 127.0.0.1:{smtp.port}"
        )

        placeholder = trustme.CA()
        services = {
            "shop": service("shop", "shop.demo.test", "www.shop.demo.test", webroot=str(webroot)),
            "api": service("api", "api.demo.test", webroot=str(webroot)),
        }
        for name, doc in services.items():
            domains = tuple(doc["certbot_domains"][0]["domains"])  # type: ignore[index]
            nginx.add_site(name, domains, placeholder)
        nginx.reload()
        config = write_config(
            sandbox,
            services,
            hostname="demo-host",
            certbot={
                "command": [certbot_path()],
                "config_dir": str(sandbox / "letsencrypt"),
                "extra_args": [
                    "--server",
                    pebble.directory,
                    "--work-dir",
                    str(sandbox / "work"),
                    "--logs-dir",
                    str(sandbox / "logs"),
                ],
                "timeout_seconds": 120,
            },
            nginx={
                "test_command": nginx.test_command,
                "reload_command": nginx.reload_command,
                "certs_dir": str(nginx.certs_dir),
            },
            probe={"port": nginx.tls_port, "connect_host": "127.0.0.1", "timeout_seconds": 3},
            notify={
                "to": "board@demo.test",
                "from": "operations@demo.test",
                "smtp": {"host": "127.0.0.1", "port": smtp.port},
            },
            # pebble's HTTPS is signed by a test CA: trust it for the ARI lookup too.
            ari={"ca_file": str(pebble.ca_bundle)},
        )
        env = {"REQUESTS_CA_BUNDLE": str(pebble.ca_bundle)}
        print(f"config: {config}")

        banner("1. first run: no certificates yet, so certkeeper issues both")
        if certkeeper(config, "check", "--no-jitter", env=env).returncode != 0:
            return 1
        certkeeper(config, "status", env=env)
        catcher.raw.clear()

        banner("2. move the calendar: shop's certificate now has 5 days left")
        print(
            "(pebble cannot backdate, so the lineage is re-minted with the same key and "
            "names, 85 days older, and nginx reloaded to serve it)"
        )
        age_lineage(sandbox / "letsencrypt", "shop", days_left=5.5)
        state_file = sandbox / "state" / "state.json"
        state = json.loads(state_file.read_text())
        state["certs"]["shop"]["last_attempt"] = "2000-01-01T00:00:00Z"
        state_file.write_text(json.dumps(state))
        nginx.reload()
        certkeeper(config, "status", "--only", "shop", env=env)
        certkeeper(config, "check", "--dry-run", env=env)

        banner("3. the daily run renews shop, reloads nginx and verifies what it serves")
        if certkeeper(config, "check", "--no-jitter", env=env).returncode != 0:
            return 1

        banner("4. the notice the team's board received")
        for msg in catcher.messages:
            print(f"Subject: {msg['Subject']}\nFrom: {msg['From']}\nTo: {msg['To']}\n")
            print(msg.get_content())
        if not any(str(m["Subject"]).startswith("[SUCCESS]") for m in catcher.messages):
            print("no SUCCESS notice arrived", file=sys.stderr)
            return 1

        banner("5. status afterwards")
        if certkeeper(config, "status", env=env).returncode != 0:
            return 1
        print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: tearing down", file=sys.stderr)
        return 130
    finally:
        for peer in reversed(running):
            peer.stop()  # type: ignore[attr-defined]
        shutil.rmtree(webroot, ignore_errors=True)
        shutil.rmtree(sandbox, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
