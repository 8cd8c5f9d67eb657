"""`make demo`: certkeeper's whole job on a local sandbox, and the cards on-call must know.

Starts pebble (Let's Encrypt's test ACME server) with pebble-challtestsrv, nginx and an SMTP
catcher on free loopback ports, and trusts pebble's root the way production trusts Let's
Encrypt's. Then, with the real `certkeeper` commands a user runs:

1. issues certificates for two services (two "Cert issued" cards);
2. renews one that became due (the "Cert renewed" card);
3. repairs a MISMATCH: certbot renewed on its own and nobody reloaded nginx ("Nginx reloaded");
4. fails a renewal because nginx lost its challenge location (the ERROR card);
   and `certkeeper doctor` finds the broken challenge path;
5. renews with the mail server down: the notice waits in the outbox, `notify outbox` shows it,
   `notify flush` delivers it once SMTP is back.

Everything is torn down on exit, also on Ctrl-C, and nothing is left running. With `--keep`
(`make demo KEEP=1`) the sandbox stays up for exploring, through `demo-run/certkeeper`, until
`--stop` (`make demo-stop`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from support.smtp import Catcher

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests"))
KEPT = TOP / "demo-run"
PIDFILE = KEPT / "demo.pid"
LOGFILE = KEPT / "demo.log"
HOSTNAME = "demo-host"
# The line a kept demo prints once its sandbox is ready: its launcher stops relaying there.
READY = "== the sandbox is up"


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def say(text: str) -> None:
    print(f"# {text}", flush=True)


def ensure_peers() -> None:
    """pebble and nginx from Debian, through the quiet prereqs script `make demo` also runs."""
    proc = subprocess.run([str(TOP / "scripts" / "prereqs.sh"), "demo"], check=False, timeout=1800)
    if proc.returncode != 0:
        sys.exit(proc.returncode)


def certkeeper(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A certkeeper command as the user types it, with its output indented under it."""
    proc = subprocess.run(
        [sys.executable, "-m", "certkeeper", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    print(f"$ certkeeper {' '.join(args)}    # exit {proc.returncode}")
    for line in (proc.stdout + proc.stderr).rstrip().splitlines():
        print(f"  {line}")
    return proc


class Board:
    """What the team's Trello board receives: each new e-mail becomes a card."""

    def __init__(self, catcher: Catcher) -> None:
        self.catcher = catcher
        self.seen = 0

    def new(self) -> list[EmailMessage]:
        messages = self.catcher.messages
        fresh = messages[self.seen :]
        self.seen = len(messages)
        return fresh

    def show(self, whole: bool = True) -> list[str]:
        subjects = []
        for msg in self.new():
            subjects.append(str(msg["Subject"]))
            print(f"  +-- card on the board\n  | Subject: {msg['Subject']}")
            if whole:
                for line in brief(msg.get_content()):
                    print(f"  | {line}".rstrip())
            print("  +--")
        if not subjects:
            print("  (no card)")
        return subjects


def brief(body: str) -> list[str]:
    """A card as on-call first reads it. An ERROR card carries the tool's last 60 lines and
    the guide's whole checklist; the demo keeps the CA's verdict and the first check."""
    lines = body.rstrip().splitlines()
    if "Error output:" not in lines:
        return lines
    start = lines.index("Error output:") + 1
    end = lines.index("Manual intervention required. Check:", start)
    verdict = [ln for ln in lines[start:end] if re.match(r"\s*(Domain|Type|Detail):", ln)]
    shown = [
        *lines[:start],
        *(verdict or lines[start : start + 3]),
        "  [...]",
        *lines[end : end + 2],
    ]
    return [*shown, f"... ({len(lines) - len(shown) + 1} more lines on the card)"]


def pebble_trust_bundle(pebble: object, folder: Path) -> Path:
    """pebble's issuing root, as a CA file for SSL_CERT_FILE.

    Production trusts Let's Encrypt's root through the system store; the sandbox's CA is made
    fresh by each pebble start, so the demo trusts it the same way: certkeeper's probe uses the
    default store, and SSL_CERT_FILE replaces it. pebble hands its root out on its management
    interface.
    """
    conf = json.loads(pebble.config.read_text())  # type: ignore[attr-defined]
    management = conf["pebble"]["managementListenAddress"]
    ctx = ssl.create_default_context(cafile=str(pebble.ca_bundle))  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"https://{management}/roots/0", context=ctx, timeout=10) as r:
        root = r.read()
    bundle = folder / "trusted-roots.pem"
    bundle.write_bytes(root)
    return bundle


def certbot_renews_alone(
    certbot: list[str], sandbox: Path, server: str, cert_name: str, env: dict[str, str]
) -> None:
    """certbot's own timer (or a person) renewing, with no reload afterwards."""
    subprocess.run(
        [
            *certbot,
            "renew",
            "--cert-name",
            cert_name,
            "--force-renewal",
            "--no-random-sleep-on-renew",
            "--non-interactive",
            "--config-dir",
            str(sandbox / "letsencrypt"),
            "--work-dir",
            str(sandbox / "work"),
            "--logs-dir",
            str(sandbox / "logs"),
            "--server",
            server,
        ],
        check=True,
        capture_output=True,
        timeout=180,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )


def served_and_disk_serials(config: Path, cert_name: str, env: dict[str, str]) -> None:
    """The two serials behind a MISMATCH: certbot renewed within the same minute, so the
    expiry columns read alike and only the serials tell the two certificates apart."""
    proc = subprocess.run(
        [sys.executable, "-m", "certkeeper", "--config", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    for row in json.loads(proc.stdout)["certificates"]:
        if row["cert_name"] == cert_name:
            served = (row.get("served") or {}).get("serial")
            disk = (row.get("disk") or {}).get("serial")
            say(f"{row['domain']}: nginx serves serial {served}, the disk holds serial {disk}")


def explore_script(config: Path, env: dict[str, str]) -> Path:
    """demo-run/certkeeper: certkeeper against the kept sandbox, trusting its CA."""
    KEPT.mkdir(exist_ok=True)
    script = KEPT / "certkeeper"
    exports = "".join(f"export {k}='{v}'\n" for k, v in sorted(env.items()))
    script.write_text(
        "#!/bin/sh\n# certkeeper against the sandbox `make demo KEEP=1` left running.\n"
        f"{exports}exec '{sys.executable}' -m certkeeper --config '{config}' \"$@\"\n"
    )
    script.chmod(0o755)
    return script


def next_steps(script: Path) -> None:
    rel = script.relative_to(TOP)
    print(f"\n{READY}: try it (pebble, nginx and the SMTP catcher stay up until `make demo-stop`)")
    for command, why in (
        ("status", "what nginx serves, worst first"),
        ("status --json", "the same for machines"),
        ("doctor api --resolve api.demo.test:127.0.0.1", "the guide's checks, in seconds"),
        ("check --dry-run", "what the next run would do"),
        ("notify outbox", "notices waiting"),
    ):
        print(f"  {rel} {command:<46} # {why}")
    print(f"  make demo-stop{'':<44} # tear it all down (log: {LOGFILE.relative_to(TOP)})")


def serve_until_stopped() -> None:
    """Detach from the launcher: the story is told, the peers stay up until SIGTERM."""
    PIDFILE.write_text(f"{os.getpid()}\n")
    sys.stdout.flush()
    log = os.open(LOGFILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        signal.pause()


def main(keep: bool) -> int:
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
    shutil.rmtree(KEPT, ignore_errors=True)

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
        board = Board(catcher)
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
        certbot = [certbot_path()]
        config = write_config(
            sandbox,
            services,
            hostname=HOSTNAME,
            certbot={
                "command": certbot,
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
            # Explicit, so the demo does not depend on the default: probe the local nginx.
            probe={
                "port": nginx.tls_port,
                "http_port": http_port,
                "connect_host": "127.0.0.1",
                "timeout_seconds": 3,
            },
            notify={
                "to": "board@demo.test",
                "from": "operations@demo.test",
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "timeout_seconds": 5},
            },
            # CAA is asked of challtestsrv's DNS, which pebble itself resolves through.
            dns={"nameserver": pebble.nameserver},
            # pebble's HTTPS is signed by a test CA: trust it for the ARI lookup too.
            ari={"ca_file": str(pebble.ca_bundle)},
        )
        trusted = pebble_trust_bundle(pebble, sandbox)
        # REQUESTS_CA_BUNDLE: certbot trusts pebble's HTTPS. SSL_CERT_FILE: certkeeper's probe
        # trusts pebble's issuing root, as production trusts Let's Encrypt's.
        # CERTKEEPER_SYSTEMD_ROOT: doctor reads the sandbox's cron file, not this machine's.
        sysroot = sandbox / "sysroot"
        (sysroot / "etc" / "cron.d").mkdir(parents=True)
        (sysroot / "etc" / "cron.d" / "certkeeper").write_text(
            "0 3,15 * * * root /usr/bin/certkeeper check\n"
        )
        env = {
            "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle),
            "SSL_CERT_FILE": str(trusted),
            "CERTKEEPER_SYSTEMD_ROOT": str(sysroot),
        }
        state_file = sandbox / "state" / "state.json"
        print(f"config: {config}")
        print(f"one service file, the team's group_vars format ({config.parent}/services.d/):")
        print((config.parent / "services.d" / "api.yaml").read_text().rstrip())

        def move_calendar(cert_name: str) -> None:
            # pebble cannot backdate: re-mint the lineage with the same key and names, 85 days
            # older, serve it, and age certkeeper's memory of its last attempt to match.
            age_lineage(sandbox / "letsencrypt", cert_name, days_left=5.5)
            state = json.loads(state_file.read_text())
            state["certs"][cert_name]["last_attempt"] = "2000-01-01T00:00:00Z"
            state_file.write_text(json.dumps(state))
            nginx.reload()

        banner("1. first run: no certificates yet, so certkeeper issues both")
        if certkeeper(config, "check", "--no-jitter", env=env).returncode != 0:
            return 1
        board.show(whole=False)
        say("every row OK and trusted: nginx serves what is on disk, and the chain verifies")
        certkeeper(config, "status", env=env)

        banner("2. the calendar moves: shop has 5 days left, so the daily run renews it")
        say("(pebble cannot backdate, so shop's lineage is re-minted 85 days older)")
        move_calendar("shop")
        certkeeper(config, "status", "--only", "shop", env=env)
        certkeeper(config, "check", "--dry-run", env=env)
        if certkeeper(config, "check", "--no-jitter", env=env).returncode != 0:
            return 1
        board.show()

        banner("3. MISMATCH: certbot renewed api on its own, and nobody reloaded nginx")
        say("(certbot's timer or a person ran `certbot renew`; nginx still serves the old one)")
        certbot_renews_alone(certbot, sandbox, pebble.directory, "api", env)
        certkeeper(config, "status", "--only", "api", env=env)
        served_and_disk_serials(config, "api", env)
        say("check runs `nginx -t`, reloads, and proves with a probe that nginx serves it")
        certkeeper(config, "check", "--no-jitter", env=env)
        board.show()

        banner("4. ERROR: api is due, but an nginx change dropped the challenge location")
        say("(pebble runs with PEBBLE_AUTHZREUSE=0, so the CA really fetches the challenge)")
        move_calendar("api")
        conf = nginx.conf.read_text()
        broken = re.sub(
            r"    location /\.well-known/acme-challenge/ \{.*?\}\n", "", conf, flags=re.S
        )
        nginx.conf.write_text(broken)
        nginx.reload()
        certkeeper(config, "check", "--no-jitter", env=env)
        board.show()
        say(
            "the card says: run doctor first. (The sandbox gets the deploy hook the package ships.)"
        )
        certkeeper(config, "install-hook", env=env)
        certkeeper(config, "doctor", "api", "--resolve", "api.demo.test:127.0.0.1", env=env)

        banner("5. the fix, while the mail server is down: the notice waits in the outbox")
        say("nginx's challenge location restored; SMTP stopped")
        nginx.write_conf()
        nginx.reload()
        smtp.stop()
        running.remove(smtp)
        say("--force: a failed attempt blocks retries for 20 hours (Let's Encrypt's limits)")
        certkeeper(config, "check", "--no-jitter", "--force", env=env)
        certkeeper(config, "notify", "outbox", env=env)
        say("SMTP back; every check delivers the outbox after its renewals, or do it by hand:")
        smtp = SMTPServer(catcher, port=smtp.port).start()
        running.append(smtp)
        certkeeper(config, "notify", "flush", env=env)
        subjects = board.show()
        if not any(s.startswith("[SUCCESS]") for s in subjects):
            print("the waiting notice was not delivered", file=sys.stderr)
            return 1

        banner("6. status afterwards")
        final = certkeeper(config, "status", env=env)
        print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
        if final.returncode != 0:
            return 1
        if keep:
            next_steps(explore_script(config, env))
            serve_until_stopped()
        print(
            "to explore it yourself: make demo KEEP=1 (the sandbox stays up until make demo-stop)"
        )
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: tearing down", file=sys.stderr)
        return 130
    finally:
        for peer in reversed(running):
            peer.stop()  # type: ignore[attr-defined]
        shutil.rmtree(webroot, ignore_errors=True)
        shutil.rmtree(sandbox, ignore_errors=True)
        shutil.rmtree(KEPT, ignore_errors=True)
        print("its peers are stopped and its sandbox removed")


def launch_kept() -> int:
    """Run the demo detached (its own session, so it outlives this launcher and `make`), relay
    its story here until the sandbox is up, then return and leave it serving."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    try:
        for line in child.stdout:
            print(line, end="", flush=True)
            if line.startswith("  make demo-stop"):
                return 0
    except KeyboardInterrupt:
        child.terminate()
    return child.wait()


def stop_kept() -> int:
    """Tear down a kept demo: SIGTERM, then wait until its process (and so its peers) is gone."""
    try:
        pid = int(PIDFILE.read_text())
    except (OSError, ValueError):
        print("no kept demo is running")
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    if Path(f"/proc/{pid}").exists():
        print(f"the kept demo (pid {pid}) did not stop within 60 s", file=sys.stderr)
        return 1
    shutil.rmtree(KEPT, ignore_errors=True)
    print("the kept demo is stopped: its peers are down and its sandbox removed")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--keep", action="store_true", help="leave the sandbox up to explore")
    mode.add_argument("--stop", action="store_true", help="tear down a kept sandbox")
    mode.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.stop and not args.serve and PIDFILE.exists():
        print(f"a kept demo is running ({PIDFILE}): make demo-stop first", file=sys.stderr)
        sys.exit(1)
    if args.stop:
        sys.exit(stop_kept())
    if args.keep:
        sys.exit(launch_kept())
    sys.exit(main(keep=args.serve))
