"""Checks for every string that can reach argv, a path or a mail header.

Pure functions: each returns the normalised value or raises ValueError whose
text says what was expected, ready to be put after the offending value.
"""

from __future__ import annotations

import ipaddress
import re

from certkeeper.terminal import unsafe

# Every pattern is used with fullmatch(): with match()/search(), `$` also matches just
# before a final "\n", so "shop\n" passed as a name (issue 11). No ^ or $ here on purpose.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_LOCAL_PART = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")


def has_control_chars(text: str) -> bool:
    """Controls (C0, DEL, C1), bidi overrides, zero-width characters, lone surrogates and
    U+2028/U+2029: the same set the terminal escaping shows as escapes."""
    return any(unsafe(ch) for ch in text)


def plain_text(text: str) -> str:
    if has_control_chars(text):
        raise ValueError(
            "text without control or invisible characters (no CR, LF, TAB, ESC, "
            "bidi overrides or zero-width characters)"
        )
    return text


def _labels_ok(name: str, min_labels: int) -> bool:
    labels = name.split(".")
    return (
        len(name) <= 253
        and len(labels) >= min_labels
        and all(_LABEL.fullmatch(label) for label in labels)
    )


def dns_name(value: str, allow_wildcard: bool = True) -> str:
    """A host name as it goes into a certificate: lower-case A-labels (IDNA converted)."""
    expected = "a DNS name of RFC 1123 labels, e.g. shop.example.com"
    if allow_wildcard:
        expected += " (a wildcard only as the whole left-most label: *.example.com)"
    if has_control_chars(value) or value != value.strip() or not value:
        raise ValueError(expected + ", without control or invisible characters")
    name = value.rstrip(".").lower()
    wildcard = name.startswith("*.")
    if wildcard:
        if not allow_wildcard:
            raise ValueError(expected)
        name = name[2:]
    if not name.isascii():
        name = _a_labels(name, expected)
    if "*" in name or not _labels_ok(name, 2):
        raise ValueError(expected)
    return f"*.{name}" if wildcard else name


def _a_labels(name: str, expected: str) -> str:
    """An internationalised name as A-labels, only when the conversion is exact.

    Python's codec implements IDNA 2003, whose mapping step silently turns some names
    into others: "ß" becomes "ss", final sigma becomes sigma, zero-width joiners and
    U+3002 "。" (a dot) vanish or change, and NFKC folds look-alikes into ASCII. IDNA 2008,
    which CAs and registries use, keeps ß and ς as themselves. So a Unicode name is
    accepted only when converting it back gives exactly what was written; otherwise the
    name is refused and the user writes the A-label (xn--...) meant. This needs no extra
    dependency, and never yields a different name than the one in the file.
    """
    try:
        ascii_name = name.encode("idna").decode("ascii")
        back = ascii_name.encode("ascii").decode("idna")
    except UnicodeError as exc:
        raise ValueError(expected) from exc
    if back != name:
        raise ValueError(
            f"a name IDNA keeps as written, but this one would silently become {back!r}:"
            " write the A-label you mean (xn--..., as `idn2 NAME` prints it)"
        )
    return ascii_name


def host_name(value: str) -> str:
    """A host name used in notices and SMTP (single labels such as 'app3' allowed)."""
    expected = "a host name of letters, digits, hyphens and dots"
    if has_control_chars(value) or not value.isascii() or not _labels_ok(value.lower(), 1):
        raise ValueError(expected)
    return value


def path_component(value: str) -> str:
    """A cert or service name: one safe path component, fit for argv and file names."""
    if not _COMPONENT.fullmatch(value) or value in {".", ".."}:
        raise ValueError(
            "a name of letters, digits, '.', '_' and '-' that starts with a letter or digit"
            " (at most 100 characters, no '/')"
        )
    return value


def email_address(value: str) -> str:
    expected = "a plain e-mail address such as ops@example.com (ASCII, no display name)"
    if has_control_chars(value) or not value.isascii() or value.count("@") != 1:
        raise ValueError(expected)
    local, domain = value.split("@")
    if not _LOCAL_PART.fullmatch(local) or not _labels_ok(domain.lower(), 1):
        raise ValueError(expected)
    return value


PROBE_LOCAL = "local"
PROBE_DNS = "dns"
LOOPBACK = "127.0.0.1"


def probe_host(value: str) -> str:
    """probe.connect_host: `local`, `dns`, a host name or an IP address."""
    if value in (PROBE_LOCAL, PROBE_DNS):
        return value
    try:
        return host_or_address(value)
    except ValueError:
        raise ValueError(
            "local (this host's nginx, the default), dns (follow public DNS), "
            "a host name or an IP address, e.g. 127.0.0.1"
        ) from None


def host_or_address(value: str) -> str:
    """Where to connect: a host name or an IPv4/IPv6 literal."""
    import ipaddress

    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    try:
        return host_name(value)
    except ValueError:
        raise ValueError("a host name or an IP address, e.g. 127.0.0.1") from None


_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def acme_profile(value: str) -> str:
    """An ACME profile name as certbot's --preferred-profile takes it.

    Any name the CA offers passes through (classic, tlsserver, shortlived today);
    it must not look like an option or hold spaces, since it is one argv element.
    """
    if not _PROFILE.match(value):
        raise ValueError(
            "an ACME profile name of letters, digits, '.', '_' or '-' "
            "(e.g. classic, tlsserver, shortlived)"
        )
    return value


DNS_PORT = 53


def nameserver(value: str) -> str:
    """`ADDR`, `ADDR:PORT` or `[V6]:PORT`, as `dig @server` takes it; the normalised text."""
    address, port = nameserver_parts(value)
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}"


def nameserver_parts(value: str) -> tuple[str, int]:
    """(address, port) of a nameserver; ValueError naming what was expected."""
    text = value.strip()
    address, raw_port = text, ""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError("expected [ADDR]:PORT for an IPv6 server, e.g. [::1]:53")
        raw_port = rest[1:]
    elif text.count(":") == 1:
        address, _, raw_port = text.partition(":")
    port = DNS_PORT
    if raw_port:
        if not (raw_port.isascii() and raw_port.isdigit()) or not 0 < int(raw_port[:6]) < 65536:
            raise ValueError("expected a port from 1 to 65535 after the address")
        port = int(raw_port)
    try:
        return str(ipaddress.ip_address(address)), port
    except ValueError:
        expected = "expected an IP address, optionally with :PORT, e.g. 127.0.0.1:8053"
        raise ValueError(expected) from None
