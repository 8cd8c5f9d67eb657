"""`certkeeper doctor [SERVICE]`: the guide's "What To Do When Things Go Wrong", automated.

Each check is a small function returning a frozen `Result` (check, ok, finding, fix);
rendering is apart (`text`, `as_json`). Every check runs in its own worker thread and
the whole run has one deadline: a check still running then is reported as "timed out"
while the others still report.

doctor changes nothing except the random HTTP-01 token it writes into a webroot, which
it always removes (the runner removes it again after the deadline, in case the check's
own thread is stuck). It never runs certbot, and sends nothing unless asked to.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from certkeeper import certbot, deploy, names, proc, sandbox
from certkeeper.config import DEFAULT_CONFIG_PATH, Config, Lineage, Service
from certkeeper.hook import HOOK_NAME
from certkeeper.notify import outbox
from certkeeper.survey import live_dir, probe_domains, read_disk

DEFAULT_BUDGET_SECONDS = 20.0
HTTP_TIMEOUT_SECONDS = 5.0
MAX_BODY_BYTES = 4096
LOG_LINES = 20
MAX_LOG_BYTES = 2 * 1024 * 1024
CRON_FILE = "etc/cron.d/certkeeper"
TIMER = "certkeeper.timer"
LE_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
_LOG_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
# Let's Encrypt tries at most a few addresses per name; so does doctor.
MAX_ADDRESSES = 4


@dataclass(frozen=True)
class Result:
    check: str  # stable id: config, dns, http01, webroot, nginx, lineage, ...
    title: str  # what a person reads
    subject: str  # the cert_name for per-certificate checks, "" for host-wide ones
    ok: bool
    finding: str
    fix: str = ""
    details: tuple[str, ...] = ()  # extra lines (the certbot log), already escaped


@dataclass(frozen=True)
class Options:
    resolve: Mapping[str, str] = field(default_factory=dict)
    send_test: bool = False
    budget: float = DEFAULT_BUDGET_SECONDS
    # Where the host's system files live: "/" except in tests (CERTKEEPER_SYSTEMD_ROOT).
    root: Path = Path("/")
    # This certkeeper as `install-hook` would write it into the hook script.
    certkeeper_argv: tuple[str, ...] = ("certkeeper",)
    config_arg: str | None = None


# ------------------------------------------------------------------- escaping


def clean(text: str, limit: int = 600) -> str:
    """Printable text only: control characters, escape sequences and bidi overrides from
    the network or certbot's log are shown as \\x1b-style escapes, never interpreted
    (terminal.line, the one escaping function), and cut at `limit` characters."""
    from certkeeper.terminal import line

    return line(text[:limit]) + ("..." if len(text) > limit else "")


def one_line(text: str, limit: int = 600) -> str:
    return clean(" | ".join(line.strip() for line in text.splitlines() if line.strip()), limit)


# -------------------------------------------------------------------- tokens


class TokenJar:
    """Every token file and folder doctor made, so they are removed whatever happens.

    Creation and the final clean-up hold one lock, and the clean-up closes the jar: a
    check still running after the deadline cannot write a token nobody will remove.
    Folders are shared by lineages with the same webroot, so only the final clean-up
    removes them; each check removes its own token as soon as it is done with it.
    """

    LOCK_WAIT_SECONDS = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: list[Path] = []
        self._dirs: list[Path] = []
        self._closed = False

    def _open(self) -> None:
        if self._closed:
            raise OSError("doctor's deadline passed before the token was written")

    def make_dir(self, path: Path) -> None:
        with self._lock:
            self._open()
            try:
                path.mkdir(mode=0o755)
            except FileExistsError:
                return  # another lineage's check made it; that one's is removed at the end
            self._dirs.append(path)
            path.chmod(0o755)  # nginx's workers must be able to read it, whatever the umask

    def make_file(self, path: Path, data: bytes) -> None:
        with self._lock:
            self._open()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            self._files.append(path)
            try:
                os.write(fd, data)
                os.fchmod(fd, 0o644)
            finally:
                os.close(fd)

    def remove(self, path: Path) -> None:
        """A check is done with its token (the final clean-up retries on failure)."""
        with self._lock:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                return
            if path in self._files:
                self._files.remove(path)

    def clean_up(self) -> list[str]:
        """Remove everything and close the jar; returns what could not be removed."""
        if not self._lock.acquire(timeout=self.LOCK_WAIT_SECONDS):
            return [
                "a token write is still hanging: look for certkeeper-doctor-* files in "
                "the webroot's .well-known/acme-challenge/"
            ]
        try:
            self._closed = True
            left = []
            for path in self._files:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    left.append(f"{path}: {exc.strerror or exc}")
            for folder in reversed(self._dirs):
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    # Something else was put there meanwhile: leave it, say so.
                    left.append(f"{folder}: {exc.strerror or exc}")
            self._files.clear()
            self._dirs.clear()
            return left
        finally:
            self._lock.release()


# ---------------------------------------------------------------- resolving


def resolve(name: str, opts: Options) -> tuple[list[str], str]:
    """(addresses, how): --resolve first, like curl's, else the system resolver."""
    if name in opts.resolve:
        return [opts.resolve[name]], "--resolve"
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return [], str(exc)
    found: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in found:
            found.append(addr)
    return found, "DNS"


def is_this_host(address: str) -> bool:
    """Loopback, or an address this host can bind (one of its own interfaces)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


def fetch(address: str, port: int, host: str, path: str) -> tuple[int | None, bytes, str]:
    """GET path from address:port with the Host header set; (status, body, error)."""
    conn = http.client.HTTPConnection(address, port, timeout=HTTP_TIMEOUT_SECONDS)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.putheader("User-Agent", "certkeeper-doctor")
        conn.putheader("Connection", "close")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read(MAX_BODY_BYTES), ""
    except (OSError, http.client.HTTPException) as exc:
        return None, b"", str(exc) or type(exc).__name__
    finally:
        conn.close()


# ------------------------------------------------------------------- checks


def _lineage_ids(svc: Service, lin: Lineage) -> str:
    return f"--only {svc.name}" if len(svc.lineages) == 1 else f"--only {lin.cert_name}"


def check_dns(cfg: Config, lin: Lineage, opts: Options) -> Result:
    title = "DNS"
    notes, missing = [], []
    dns_mode = cfg.probe.connect_host == names.PROBE_DNS
    elsewhere = []
    for domain in lin.domains:
        if domain.startswith("*."):
            notes.append(f"{domain}: wildcard, not resolved")
            continue
        addrs, how = resolve(domain, opts)
        if not addrs:
            missing.append(f"{domain}: does not resolve ({clean(how, 200)})")
            continue
        mine = [a for a in addrs if is_this_host(a)]
        shown = ", ".join(addrs[:MAX_ADDRESSES])
        if mine:
            notes.append(f"{domain} -> {shown} ({how}; this host)")
        else:
            elsewhere.append(domain)
            notes.append(f"{domain} -> {shown} ({how}; not this host: the other host of a pair?)")
    if missing:
        return Result(
            "dns",
            title,
            lin.cert_name,
            False,
            "; ".join(missing + notes),
            "DNS problem: NXDOMAIN: check the DNS records for the name (A/AAAA pointing at "
            "this host or its pair), wait for propagation",
        )
    if dns_mode and elsewhere:
        return Result(
            "dns",
            title,
            lin.cert_name,
            False,
            "; ".join(notes),
            "probe.connect_host: dns probes what DNS answers, and that is not this host: "
            "remove probe.connect_host (the default probes this host's nginx) or fix DNS",
        )
    return Result("dns", title, lin.cert_name, True, "; ".join(notes))


def _local_address(cfg: Config) -> str:
    mode = cfg.probe.connect_host
    return names.LOOPBACK if mode in (names.PROBE_LOCAL, names.PROBE_DNS) else mode


def _answer(status: int | None, body: bytes, error: str, expected: str) -> str | None:
    """None when the token came back, else what came instead."""
    if status is None:
        return f"no answer ({clean(error, 200)})"
    if status != 200:
        return f"HTTP {status}"
    if body.strip() != expected.encode():
        return f"HTTP 200 with another body ({clean(body[:60].decode(errors='replace'), 80)!s})"
    return None


def _place_token(lin: Lineage, jar: TokenJar) -> tuple[Path, str]:
    folder = lin.webroot / ".well-known" / "acme-challenge"
    missing = []
    step = folder
    while not step.exists() and step != lin.webroot and step != step.parent:
        missing.append(step)
        step = step.parent
    for made in reversed(missing):
        jar.make_dir(made)
    token = "certkeeper-doctor-" + secrets.token_urlsafe(24)
    content = f"{token}.{secrets.token_urlsafe(16)}"
    path = folder / token
    jar.make_file(path, content.encode())
    return path, content


def check_http01(cfg: Config, svc: Service, lin: Lineage, opts: Options, jar: TokenJar) -> Result:
    title = "HTTP-01 path"
    names_ = [d for d in lin.domains if not d.startswith("*.")]
    if not names_:
        return Result(
            "http01", title, lin.cert_name, True, "only wildcard names: HTTP-01 does not apply"
        )
    port = cfg.probe.http_port
    local = _local_address(cfg)
    try:
        path, content = _place_token(lin, jar)
    except OSError as exc:
        return Result(
            "http01",
            title,
            lin.cert_name,
            False,
            f"cannot write a test token into {lin.webroot}/.well-known/acme-challenge/: "
            f"{clean(exc.strerror or str(exc), 200)}",
            f"certbot writes its tokens there too: make {lin.webroot} exist and be writable "
            "by root",
        )
    try:
        url_path = CHALLENGE_PATH + path.name
        failed = []
        for domain in names_:
            status, body, error = fetch(local, port, domain, url_path)
            wrong = _answer(status, body, error, content)
            if wrong:
                failed.append(f"{domain}: this host's nginx at {local}:{port} answered {wrong}")
        if failed:
            refused = any("refused" in line for line in failed)
            fix = (
                "Connection refused: nginx is not listening on port "
                f"{port} (check it runs, the firewall and security groups)"
                if refused
                else "404 on ACME challenge: nginx not configured: the port-80 server block "
                f"needs `location {CHALLENGE_PATH} {{ root {lin.webroot}; }}` (re-run the "
                "deployService.yml playbook), then nginx -t and reload"
            )
            return Result(
                "http01",
                title,
                lin.cert_name,
                False,
                f"token written to {lin.webroot}; " + "; ".join(failed),
                fix,
            )
        notes: list[str] = []
        other: list[str] = []
        silent: list[str] = []
        for domain in names_:
            addrs, how = resolve(domain, opts)
            if not addrs:
                notes.append(f"{domain}: no address to follow (see DNS)")
                continue
            for addr in addrs[:MAX_ADDRESSES]:
                status, body, error = fetch(addr, port, domain, url_path)
                wrong = _answer(status, body, error, content)
                if status is None:
                    silent.append(f"{domain} via {addr} ({how}): {wrong}")
                elif wrong:
                    other.append(f"{domain} via {addr} ({how}) answered {wrong}")
                else:
                    notes.append(f"{domain} via {addr} ({how}): token served")
        if silent and not other:
            return Result(
                "http01",
                title,
                lin.cert_name,
                False,
                "this host's nginx serves the token, but " + "; ".join(silent),
                f"Connection refused: port {port} blocked on the way Let's Encrypt comes in: "
                "check the firewall and security groups",
            )
        if other:
            return Result(
                "http01",
                title,
                lin.cert_name,
                False,
                "this host's nginx serves the token, but "
                + "; ".join(other + silent)
                + ": the challenge reached another host",
                "HTTP-01 needs the challenge path shared or proxied between the pair: "
                f"proxy {CHALLENGE_PATH} to one host, or share {lin.webroot} between both",
            )
        return Result(
            "http01",
            title,
            lin.cert_name,
            True,
            f"this host's nginx at {local}:{port} serves the token for "
            f"{', '.join(names_)}; " + "; ".join(notes),
        )
    finally:
        # The runner removes it again after the deadline; here it goes as soon as possible.
        jar.remove(path)


def check_webroot(cfg: Config, lin: Lineage, opts: Options) -> Result:
    title = "Webroot write under the unit"
    unit = sandbox.installed_unit(opts.root)
    where = lin.webroot
    if not where.is_dir():
        return Result(
            "webroot",
            title,
            lin.cert_name,
            False,
            f"{where} does not exist",
            f"create it (mkdir -p {where}) and serve {CHALLENGE_PATH} from it",
        )
    if unit is None:
        verdict = os.access(where, os.W_OK)
        return Result(
            "webroot",
            title,
            lin.cert_name,
            verdict,
            f"no {sandbox.UNIT_NAME} installed: nothing sandboxes the job; {where} is "
            + ("writable" if verdict else "not writable by this user"),
            "" if verdict else f"run certkeeper as root, or give it write access to {where}",
        )
    result = sandbox.can_write(unit, where)
    if result.writable:
        return Result(
            "webroot", title, lin.cert_name, True, f"{sandbox.UNIT_NAME} can write {where}"
        )
    return Result(
        "webroot",
        title,
        lin.cert_name,
        False,
        f"{sandbox.UNIT_NAME} cannot write {where} ({result.reason})",
        result.hint,
    )


def check_nginx(cfg: Config, opts: Options) -> Result:
    title = "nginx -t"
    result = proc.run(cfg.nginx.test_command, timeout=max(1.0, opts.budget - 1))
    said = one_line(result.output_tail(10), 800)
    if result.ok:
        return Result("nginx", title, "", True, said or "passed")
    if result.timed_out:
        return Result(
            "nginx",
            title,
            "",
            False,
            f"timed out: {clean(result.describe(), 200)}",
            "run the test command by hand (nginx.test_command) to see where it hangs",
        )
    return Result(
        "nginx",
        title,
        "",
        False,
        f"{clean(result.describe(), 200)}: {said}",
        "fix the configuration nginx names, run nginx -t until it passes, then "
        "certkeeper check --no-jitter (nginx keeps serving the old certificates meanwhile)",
    )


def _configured_server(cfg: Config) -> str:
    args = list(cfg.certbot.extra_args)
    server = LE_DIRECTORY
    for i, arg in enumerate(args):
        if arg == "--server" and i + 1 < len(args):
            server = args[i + 1]
        elif arg.startswith("--server="):
            server = arg.split("=", 1)[1]
    return server


def check_lineage(cfg: Config, svc: Service, lin: Lineage) -> Result:
    title = "certbot knows the lineage"
    live = live_dir(cfg, lin.cert_name)
    conf = certbot.renewal_conf(cfg.certbot.config_dir, lin.cert_name)
    again = f"certkeeper check --no-jitter {_lineage_ids(svc, lin)}"
    disk, error = read_disk(cfg, lin.cert_name)
    if error:
        return Result(
            "lineage",
            title,
            lin.cert_name,
            False,
            clean(error, 300),
            f"look at {live}: certbot's own files; restore them from the archive/ folder",
        )
    if disk is None:
        return Result(
            "lineage",
            title,
            lin.cert_name,
            False,
            f"no lineage: {live}/cert.pem does not exist",
            f"{again} issues it (certbot certonly --webroot)",
        )
    if not conf.is_file():
        return Result(
            "lineage",
            title,
            lin.cert_name,
            False,
            f"{live} exists but {conf} does not: certbot does not know this lineage and "
            "will not renew it (certbot certificates does not list it)",
            f"restore {conf} from a backup, or move {live} and its archive/ folder aside "
            f"and let `{again}` issue it again",
        )
    params = certbot.read_renewalparams(cfg.certbot.config_dir, lin.cert_name)
    roots = certbot.read_webroot_map(cfg.certbot.config_dir, lin.cert_name)
    problems = []
    fallback = params.get("webroot_path", "").rstrip(",").strip()
    for domain in lin.domains:
        stored = roots.get(domain) or fallback
        if not stored:
            problems.append(f"{domain}: no webroot in the renewal conf")
        elif Path(stored) != lin.webroot:
            problems.append(
                f"{domain}: webroot {clean(stored, 200)}, the config says {lin.webroot}"
            )
    server = params.get("server", "")
    if server != _configured_server(cfg):
        problems.append(
            f"server {clean(server, 200) or '(none)'}, the config says {_configured_server(cfg)}"
        )
    if problems:
        return Result(
            "lineage",
            title,
            lin.cert_name,
            False,
            f"{conf}: " + "; ".join(problems),
            "certbot renew uses the webroot and server stored in the renewal conf, not the "
            f"config's: correct them in {conf} (webroot_map, server), or re-issue with "
            f"certkeeper check --no-jitter --force {_lineage_ids(svc, lin)}",
        )
    return Result(
        "lineage",
        title,
        lin.cert_name,
        True,
        f"{live} holds serial {disk.serial_hex} (expires {disk.not_after:%Y-%m-%d %H:%M} UTC); "
        f"{conf.name} names the same webroot and server",
    )


def check_symlinks(cfg: Config, lin: Lineage) -> Result:
    title = "The symlinks"
    live = live_dir(cfg, lin.cert_name)
    links = cfg.links_for(lin.cert_name)
    if not links:
        return Result(
            "symlinks", title, lin.cert_name, True, "no certbot_services entry uses this lineage"
        )
    wrong = []
    count = 0
    fix = ""
    for link in links:
        for suffix, target in deploy.LINK_FILES:
            path = cfg.nginx.certs_dir / f"{link.name}.{suffix}"
            want = live / target
            count += 1
            try:
                raw = os.readlink(path)
            except FileNotFoundError:
                wrong.append(f"{path} is missing")
            except OSError:
                wrong.append(f"{path} is not a symlink")
            else:
                seen = Path(os.path.normpath(path.parent / raw))
                if seen == want:
                    continue
                wrong.append(f"{path} points at {clean(raw, 200)}, not {want}")
            fix = fix or f"ln -sfn {want} {path}"
    if wrong:
        return Result(
            "symlinks",
            title,
            lin.cert_name,
            False,
            "; ".join(wrong),
            f"{fix} (and likewise for the others), then nginx -t and "
            "certkeeper check --no-jitter, which reloads and verifies",
        )
    return Result(
        "symlinks",
        title,
        lin.cert_name,
        True,
        f"{count} link(s) in {cfg.nginx.certs_dir} -> {live}",
    )


def check_served(cfg: Config, svc: Service, lin: Lineage) -> Result:
    title = "Disk and served agree"
    disk, _ = read_disk(cfg, lin.cert_name)
    if disk is None:
        return Result(
            "served",
            title,
            lin.cert_name,
            True,
            "no certificate on disk to compare (the lineage check says why)",
        )
    problems = []
    results = probe_domains(cfg, list(lin.domains))
    for domain, result in zip(lin.domains, results, strict=True):
        cert = result.cert
        if cert is None:
            problems.append(f"{domain}: unreachable ({clean(result.error or '', 200)})")
        elif not result.covered:
            problems.append(f"{domain}: nginx serves a certificate without this name")
        elif cert.serial != disk.serial:
            problems.append(
                f"{domain}: nginx serves serial {cert.serial_hex} (expires "
                f"{cert.not_after:%Y-%m-%d %H:%M} UTC), the disk holds {disk.serial_hex} "
                f"(expires {disk.not_after:%Y-%m-%d %H:%M} UTC)"
            )
    target = f"{_local_address(cfg)}:{cfg.probe.port}"
    if cfg.probe.connect_host == names.PROBE_DNS:
        target = f"DNS, port {cfg.probe.port}"
    if problems:
        mismatch = any("serves serial" in p for p in problems)
        fix = (
            f"renewed but not reloaded: certkeeper check --no-jitter {_lineage_ids(svc, lin)} "
            "sees the MISMATCH, reloads nginx and verifies"
            if mismatch
            else "the server block must serve the lineage through the symlinks: "
            + " ".join(deploy.server_block_lines(cfg, lin.cert_name))
            + " with every name in server_name; then nginx -t and reload"
        )
        return Result(
            "served", title, lin.cert_name, False, f"probing {target}: " + "; ".join(problems), fix
        )
    return Result(
        "served",
        title,
        lin.cert_name,
        True,
        f"{target} serves serial {disk.serial_hex} for {', '.join(lin.domains)}",
    )


def _same_program(found: list[str], expected: tuple[str, ...]) -> bool:
    if not found or not expected:
        return False
    if expected[1:3] == ("-m", "certkeeper"):
        return found[1:3] == ["-m", "certkeeper"] and os.path.realpath(
            found[0]
        ) == os.path.realpath(expected[0])
    return os.path.realpath(found[0]) == os.path.realpath(expected[0])


def _config_in(argv: list[str]) -> Path:
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return DEFAULT_CONFIG_PATH


def check_hook(cfg: Config, opts: Options) -> Result:
    title = "The deploy hook"
    path = cfg.certbot.config_dir / "renewal-hooks" / "deploy" / HOOK_NAME
    install = (
        f"certkeeper --config {opts.config_arg} install-hook"
        if opts.config_arg
        else "certkeeper install-hook"
    )
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:8192]
    except FileNotFoundError:
        return Result(
            "hook",
            title,
            "",
            False,
            f"{path} is missing: a renewal certbot makes on its own is never deployed",
            install,
        )
    except OSError as exc:
        return Result("hook", title, "", False, f"cannot read {path}: {exc.strerror}", install)
    if not os.access(path, os.X_OK):
        return Result(
            "hook",
            title,
            "",
            False,
            f"{path} is not executable: certbot skips it",
            f"chmod 755 {path}",
        )
    line = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("exec ")), "")
    try:
        argv = shlex.split(line)[1:]
    except ValueError:
        argv = []
    if not argv or argv[-1] != "deploy-hook":
        return Result(
            "hook",
            title,
            "",
            False,
            f"{path} does not exec `certkeeper deploy-hook`",
            install,
        )
    program_ok = _same_program(argv, opts.certkeeper_argv)
    config_ok = _config_in(argv).absolute() == cfg.path
    if not (program_ok and config_ok):
        what = []
        if not program_ok:
            what.append(
                f"runs {clean(argv[0], 200)}, not this certkeeper ({opts.certkeeper_argv[0]})"
            )
        if not config_ok:
            what.append(f"reads {_config_in(argv)}, not {cfg.path}")
        return Result("hook", title, "", False, f"{path} " + " and ".join(what), install)
    return Result(
        "hook", title, "", True, f"{path} is executable and runs this certkeeper with {cfg.path}"
    )


def _cron_line(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError:
        return None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            continue
        if "certkeeper" in line and re.search(r"\bcheck\b", line):
            return line
    return None


def _timer_state(opts: Options) -> tuple[bool, str]:
    """Whether certkeeper.timer is active (or, in an offline root, enabled), and what was seen."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return False, "no systemctl on this host"
    if opts.root != Path("/"):
        # A root that is not this machine's: systemctl reads its unit files offline.
        result = proc.run([systemctl, f"--root={opts.root}", "is-enabled", TIMER], timeout=10)
        state = result.stdout.strip() or one_line(result.stderr, 200)
        return result.ok and state == "enabled", f"{TIMER} in {opts.root}: {clean(state, 200)}"
    result = proc.run(
        [
            systemctl,
            "show",
            TIMER,
            "--property=LoadState,ActiveState,UnitFileState,NextElapseUSecRealtime",
        ],
        timeout=10,
    )
    if not result.ok:
        return False, f"systemctl: {one_line(result.output_tail(3), 200) or result.describe()}"
    props = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    active = props.get("ActiveState") == "active"
    said = (
        f"{TIMER}: {props.get('LoadState', '?')}, {props.get('ActiveState', '?')}, "
        f"{props.get('UnitFileState', '?') or '?'}"
    )
    if active and props.get("NextElapseUSecRealtime"):
        said += f", next run {props['NextElapseUSecRealtime']}"
    return active, clean(said, 300)


def check_timer(cfg: Config, opts: Options) -> Result:
    title = "The timer"
    active, said = _timer_state(opts)
    cron_file = opts.root / CRON_FILE
    line = _cron_line(cron_file)
    if active:
        extra = f"; {cron_file} also runs it (twice the runs)" if line else ""
        return Result("timer", title, "", True, said + extra)
    if line:
        return Result("timer", title, "", True, f"{cron_file}: {clean(line, 200)} ({said})")
    return Result(
        "timer",
        title,
        "",
        False,
        f"neither is active: {said}; no line in {cron_file} runs certkeeper check: "
        "nothing renews these certificates",
        f"systemctl enable --now {TIMER}, or uncomment one line in {cron_file}",
    )


def _ehlo(cfg: Config) -> str | None:
    """None when the SMTP server answered EHLO, else what happened."""
    settings = cfg.notify.smtp
    timeout = min(settings.timeout_seconds, 10.0)
    client: smtplib.SMTP | None = None
    try:
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        code, reply = client.ehlo()
        if code != 250:
            return f"EHLO answered {code} {clean(reply.decode(errors='replace'), 200)}"
        return None
    except (smtplib.SMTPException, OSError, ssl.SSLError, ValueError, UnicodeError) as exc:
        return clean(str(exc) or type(exc).__name__, 200)
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def check_notify(cfg: Config, opts: Options) -> Result:
    title = "Notifications"
    smtp = cfg.notify.smtp
    problems, fixes, good = [], [], []
    if cfg.notify.to is None:
        problems.append("notify.to is not set: no card reaches the team")
        fixes.append(f"set notify.to in {cfg.path} to the board's address")
    else:
        good.append(f"notify.to {cfg.notify.to}")
    waiting = outbox.count(cfg.state_dir)
    set_aside = outbox.quarantined(cfg.state_dir)
    if waiting:
        problems.append(f"{waiting} notice(s) waiting in {outbox.outbox_dir(cfg.state_dir)}")
        fixes.append("certkeeper notify outbox shows why; certkeeper notify flush retries")
    if set_aside:
        problems.append(f"{len(set_aside)} unreadable notice(s) set aside in quarantine")
        fixes.append("certkeeper notify outbox lists them")
    if not waiting and not set_aside:
        good.append("the outbox is empty")
    refused = _ehlo(cfg)
    if refused:
        problems.append(f"SMTP {smtp.host}:{smtp.port} ({smtp.security}): {refused}")
        fixes.append("check notify.smtp and that the server runs; certkeeper notify test")
    else:
        good.append(f"SMTP {smtp.host}:{smtp.port} answers EHLO")
    if opts.send_test and cfg.notify.to is not None:
        from certkeeper.actions.notify import send_test
        from certkeeper.times import now

        delivered, transcript = send_test(cfg, now())
        last = clean(transcript[-1] if transcript else "", 200)
        if delivered:
            good.append(f"test notice {last}")
        else:
            problems.append(f"test notice {last}")
            fixes.append("certkeeper notify test shows the whole exchange")
    if problems:
        return Result("notify", title, "", False, "; ".join(problems + good), "; ".join(fixes))
    return Result("notify", title, "", True, "; ".join(good))


def _log_tail(cfg: Config, lin: Lineage) -> tuple[str, list[str]]:
    path = certbot.logs_file(cfg)
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - MAX_LOG_BYTES))
            data = handle.read(MAX_LOG_BYTES)
    except OSError as exc:
        return path, [f"(cannot read {path}: {exc.strerror or exc})"]
    keys = (lin.cert_name, *lin.domains)
    # Entries only (they start with a timestamp): certbot also dumps whole ACME JSON
    # documents into the log, one field a line, which say nothing to a person.
    lines = [
        line
        for line in data.decode("utf-8", errors="replace").splitlines()
        if _LOG_ENTRY.match(line) and any(key in line for key in keys)
    ]
    return path, [clean(line, 300) for line in lines[-LOG_LINES:]]


def check_history(cfg: Config, svc: Service, lin: Lineage) -> Result:
    title = "History"
    from certkeeper import state as state_mod

    state = state_mod.load(cfg.state_dir, datetime.now().astimezone(), repair=False)
    rec = state.certs.get(lin.cert_name)
    log_path, tail = _log_tail(cfg, lin)
    details = tuple([f"last {len(tail)} line(s) of {log_path} for {lin.cert_name}:", *tail])
    if state.warnings:
        return Result(
            "history",
            title,
            lin.cert_name,
            False,
            clean("; ".join(state.warnings), 400),
            "certkeeper check moves an unreadable state file aside and starts afresh",
            details,
        )
    if rec is None or rec.last_attempt is None:
        return Result(
            "history",
            title,
            lin.cert_name,
            True,
            "certkeeper has not run certbot for it yet",
            details=details,
        )
    when = f"{rec.last_attempt:%Y-%m-%d %H:%M} UTC"
    if rec.last_result == "error":
        step = f" at step {clean(rec.failed_step, 100)}" if rec.failed_step else ""
        return Result(
            "history",
            title,
            lin.cert_name,
            False,
            f"last attempt {when} failed{step} ({rec.consecutive_failures} in a row): "
            + one_line(rec.last_error or "", 300),
            "read certbot's log below; fix that step, then certkeeper check --no-jitter "
            f"--force {_lineage_ids(svc, lin)}",
            details,
        )
    return Result(
        "history",
        title,
        lin.cert_name,
        True,
        f"last attempt {when}: {clean(rec.last_result or 'unknown', 40)}",
        details=details,
    )


# ------------------------------------------------------------------- runner


@dataclass(frozen=True)
class Job:
    check: str
    title: str
    subject: str
    run: Callable[[], Result]


def jobs(cfg: Config, services: tuple[Service, ...], opts: Options, jar: TokenJar) -> list[Job]:
    """In the issue's order: per-certificate checks for each lineage, host-wide ones once."""
    out: list[Job] = []
    lineages = [(svc, lin) for svc in services for lin in svc.lineages]

    def each(check: str, title: str, make: Callable[[Service, Lineage], Result]) -> None:
        for svc, lin in lineages:
            out.append(Job(check, title, lin.cert_name, functools.partial(make, svc, lin)))

    each("dns", "DNS", lambda s, ln: check_dns(cfg, ln, opts))
    each("http01", "HTTP-01 path", lambda s, ln: check_http01(cfg, s, ln, opts, jar))
    each("webroot", "Webroot write under the unit", lambda s, ln: check_webroot(cfg, ln, opts))
    out.append(Job("nginx", "nginx -t", "", lambda: check_nginx(cfg, opts)))
    each("lineage", "certbot knows the lineage", lambda s, ln: check_lineage(cfg, s, ln))
    each("symlinks", "The symlinks", lambda s, ln: check_symlinks(cfg, ln))
    each("served", "Disk and served agree", lambda s, ln: check_served(cfg, s, ln))
    out.append(Job("hook", "The deploy hook", "", lambda: check_hook(cfg, opts)))
    out.append(Job("timer", "The timer", "", lambda: check_timer(cfg, opts)))
    out.append(Job("notify", "Notifications", "", lambda: check_notify(cfg, opts)))
    each("history", "History", lambda s, ln: check_history(cfg, s, ln))
    return out


def run_jobs(work: list[Job], budget: float) -> list[Result]:
    """Every job in its own daemon thread, all against one deadline: a hung check cannot
    hold the others, nor keep the process alive after the report."""
    slots: list[Result | None] = [None] * len(work)

    def runner(index: int, job: Job) -> None:
        try:
            slots[index] = job.run()
        except Exception as exc:  # a check that breaks is a finding, not a traceback
            slots[index] = Result(
                job.check,
                job.title,
                job.subject,
                False,
                clean(f"the check itself failed: {type(exc).__name__}: {exc}", 300),
                "run certkeeper -v doctor and report it",
            )

    threads = [
        threading.Thread(target=runner, args=(i, job), daemon=True, name=f"doctor-{job.check}")
        for i, job in enumerate(work)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + budget
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    results = []
    for job, slot in zip(work, list(slots), strict=True):
        results.append(
            slot
            if slot is not None
            else Result(
                job.check,
                job.title,
                job.subject,
                False,
                f"timed out: no answer within {budget:g}s",
                "run the step by hand to see where it hangs (doctor --timeout gives it longer)",
            )
        )
    return results


def run(cfg: Config, services: tuple[Service, ...], opts: Options) -> list[Result]:
    jar = TokenJar()
    config_ok = Result(
        "config",
        "Config",
        "",
        True,
        f"{cfg.path} and {len(cfg.services)} service file(s) in {cfg.services_dir} load",
    )
    try:
        results = [config_ok, *run_jobs(jobs(cfg, services, opts, jar), opts.budget)]
    finally:
        left = jar.clean_up()
    if left:
        results.append(
            Result(
                "http01",
                "HTTP-01 path",
                "",
                False,
                "the test token could not be removed: " + clean("; ".join(left), 400),
                "remove it by hand",
            )
        )
    return results


def config_failed(problems: list[str]) -> list[Result]:
    return [
        Result(
            "config",
            "Config",
            "",
            False,
            clean("; ".join(problems), 2000),
            "fix each problem named (file: key = value: expected what), "
            "then certkeeper config validate",
        )
    ]


# ---------------------------------------------------------------- rendering


def exit_code(results: list[Result]) -> int:
    return 0 if all(r.ok for r in results) else 1


def text(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        mark = "\u2713" if r.ok else "\u2717"
        where = f" [{r.subject}]" if r.subject else ""
        line = f"{mark} {r.title}{where}: {r.finding}"
        if not r.ok and r.fix:
            line += f" \u2192 fix: {r.fix}"
        lines.append(line)
        lines.extend(f"    {d}" for d in r.details)
    failed = sum(not r.ok for r in results)
    lines.append(
        f"{len(results) - failed} of {len(results)} checks passed"
        + (f"; {failed} failed" if failed else "")
    )
    return lines


def as_json(results: list[Result]) -> str:
    return json.dumps(
        {
            "ok": all(r.ok for r in results),
            "checks": [
                {
                    "check": r.check,
                    "title": r.title,
                    "subject": r.subject or None,
                    "ok": r.ok,
                    "finding": r.finding,
                    "fix": r.fix or None,
                    "details": list(r.details),
                }
                for r in results
            ],
        }
    )


def parse_resolve(values: tuple[str, ...]) -> dict[str, str]:
    """`NAME:ADDR` pairs (curl's --resolve without the port); raises ValueError."""
    found = {}
    for value in values:
        name, sep, addr = value.partition(":")
        if not sep:
            raise ValueError(f"{value!r}: expected NAME:ADDR, e.g. shop.example.com:203.0.113.7")
        try:
            found[names.dns_name(name, allow_wildcard=False)] = str(
                ipaddress.ip_address(addr.strip("[]"))
            )
        except ValueError:
            raise ValueError(
                f"{value!r}: expected NAME:ADDR with a DNS name and an IP address"
            ) from None
    return found
