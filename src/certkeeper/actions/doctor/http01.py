"""Can Let's Encrypt reach the HTTP-01 challenge? DNS, the token through this host's
nginx and through every address DNS gives, and whether the unit's sandbox lets certbot
write the webroot."""

from __future__ import annotations

import http.client
import ipaddress
import os
import secrets
import socket
from pathlib import Path

from certkeeper import names, sandbox
from certkeeper.actions.doctor.base import (
    CHALLENGE_PATH,
    Options,
    Result,
    clean,
    local_address,
)
from certkeeper.actions.doctor.tokens import TokenJar, UnsafeWebroot
from certkeeper.config import Config, Lineage
from certkeeper.deadline import Connection, Deadline

HTTP_TIMEOUT_SECONDS = 5.0
MAX_BODY_BYTES = 4096
# Let's Encrypt tries at most a few addresses per name; so does doctor.
MAX_ADDRESSES = 4
TITLE = "HTTP-01 path"
CHALLENGE_DIRS = (".well-known", "acme-challenge")


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
    """GET path from address:port with the Host header set; (status, body, error). The
    whole exchange, a dripped status line and headers included, ends by one deadline."""
    deadline = Deadline(HTTP_TIMEOUT_SECONDS)
    conn = Connection(address, port, deadline)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.putheader("User-Agent", "certkeeper-doctor")
        conn.putheader("Connection", "close")
        conn.endheaders()
        conn.left()
        response = conn.getresponse()
        conn.left()
        body = response.read(MAX_BODY_BYTES)
        if deadline.fired:
            raise TimeoutError  # a reply cut short by the watchdog reads as a whole one
        return response.status, body, ""
    except (OSError, http.client.HTTPException) as exc:
        if deadline.fired or isinstance(exc, TimeoutError):
            return None, b"", f"no answer within {HTTP_TIMEOUT_SECONDS:g}s"
        return None, b"", str(exc) or type(exc).__name__
    finally:
        conn.close()
        deadline.close()


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
    token = "certkeeper-doctor-" + secrets.token_urlsafe(24)
    content = f"{token}.{secrets.token_urlsafe(16)}"
    path = jar.make_file(lin.webroot, CHALLENGE_DIRS, token, content.encode())
    return path, content


def check_http01(cfg: Config, lin: Lineage, opts: Options, jar: TokenJar) -> Result:
    names_ = [d for d in lin.domains if not d.startswith("*.")]
    if not names_:
        return Result(
            "http01", TITLE, lin.cert_name, True, "only wildcard names: HTTP-01 does not apply"
        )
    try:
        path, content = _place_token(lin, jar)
    except UnsafeWebroot as exc:
        return Result(
            "http01",
            TITLE,
            lin.cert_name,
            False,
            f"refused to write a test token: {exc.strerror}",
            "certbot's webroot plugin would write through it too: make "
            f"{lin.webroot}/.well-known/acme-challenge a plain folder owned by root, and "
            "find out who planted the link",
        )
    except OSError as exc:
        return Result(
            "http01",
            TITLE,
            lin.cert_name,
            False,
            f"cannot write a test token into {lin.webroot}/.well-known/acme-challenge/: "
            f"{clean(exc.strerror or str(exc), 200)}",
            f"certbot writes its tokens there too: make {lin.webroot} exist and be writable "
            "by root",
        )
    try:
        token = (CHALLENGE_PATH + path.name, content)
        local = _through_local(cfg, lin, names_, token)
        return local or _through_dns(cfg, lin, names_, opts, token)
    finally:
        # The runner removes it again after the deadline; here it goes as soon as possible.
        jar.remove(path)


def _through_local(
    cfg: Config, lin: Lineage, names_: list[str], token: tuple[str, str]
) -> Result | None:
    """A failing Result when this host's own nginx does not serve the token, else None."""
    port = cfg.probe.http_port
    local = local_address(cfg)
    url_path, content = token
    failed = []
    for domain in names_:
        status, body, error = fetch(local, port, domain, url_path)
        wrong = _answer(status, body, error, content)
        if wrong:
            failed.append(f"{domain}: this host's nginx at {local}:{port} answered {wrong}")
    if not failed:
        return None
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
        TITLE,
        lin.cert_name,
        False,
        f"token written to {lin.webroot}; " + "; ".join(failed),
        fix,
    )


def _through_dns(
    cfg: Config, lin: Lineage, names_: list[str], opts: Options, token: tuple[str, str]
) -> Result:
    """The token fetched the way Let's Encrypt comes in: at every address DNS gives."""
    port = cfg.probe.http_port
    notes, other, silent = _follow(names_, port, opts, token)
    if silent and not other:
        return Result(
            "http01",
            TITLE,
            lin.cert_name,
            False,
            "this host's nginx serves the token, but " + "; ".join(silent),
            f"Connection refused: port {port} blocked on the way Let's Encrypt comes in: "
            "check the firewall and security groups",
        )
    if other:
        return Result(
            "http01",
            TITLE,
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
        TITLE,
        lin.cert_name,
        True,
        f"this host's nginx at {local_address(cfg)}:{port} serves the token for "
        f"{', '.join(names_)}; " + "; ".join(notes),
    )


def _follow(
    names_: list[str], port: int, opts: Options, token: tuple[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """(served or unresolved, answered with something else, did not answer) per address."""
    url_path, content = token
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
    return notes, other, silent


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
