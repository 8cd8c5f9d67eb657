"""CAA lookups (RFC 8659): climb from a name to its parents, the first record set decides.

dnspython asks the DNS server named by `dns.nameserver` (or the system's resolver). Every
lookup of one name, all its parents included, shares one total deadline. A lookup that
times out or fails is an error the caller reports as "could not check": it never blocks a
renewal (the CA does the authoritative check anyway).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from certkeeper import names, terminal
from certkeeper.policy.caa import Record, decide

if TYPE_CHECKING:
    import dns.resolver

MAX_RECORDS = 64  # more is hostile: the rest are not read
MAX_VALUE = 255  # a CAA value is at most a few dozen characters in practice


class LookupFailed(Exception):
    """The DNS did not answer in time, or answered with an error other than "no such name"."""


def _resolver(nameserver: str | None) -> dns.resolver.Resolver:
    """The system's resolver, or the one server `nameserver` names (names.nameserver)."""
    import dns.resolver

    if nameserver is None:
        return dns.resolver.Resolver()
    address, port = names.nameserver_parts(nameserver)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [address]
    resolver.port = port
    return resolver


def _candidates(name: str) -> list[str]:
    """The name (without a wildcard label), then each parent, the TLD included."""
    labels = name.removeprefix("*.").rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _records(answer: dns.resolver.Answer) -> tuple[Record, ...]:
    """The first MAX_RECORDS records, tag and value cut and escaped: the DNS is anyone's,
    and what it says is quoted in the ERROR card and on the terminal (no issuer name has
    a control character, so an escaped one still names no CA)."""
    found = []
    for rdata in list(answer)[:MAX_RECORDS]:
        tag = terminal.line(rdata.tag.decode("ascii", "replace").lower())[:MAX_VALUE]
        value = terminal.line(rdata.value.decode("utf-8", "replace"))[:MAX_VALUE]
        found.append(Record(int(rdata.flags), tag, value))
    return tuple(found)


def lookup(
    name: str, nameserver: str | None, timeout: float
) -> tuple[str | None, tuple[Record, ...]]:
    """(where the relevant record set was found, its records); (None, ()) when no name up
    the tree has CAA records. Raises LookupFailed."""
    import dns.exception
    import dns.resolver

    resolver = _resolver(nameserver)
    deadline = time.monotonic() + timeout
    for candidate in _candidates(name):
        left = deadline - time.monotonic()
        if left <= 0:
            raise LookupFailed(f"CAA lookup of {candidate} timed out after {timeout:g} s")
        try:
            answer = resolver.resolve(
                candidate, "CAA", raise_on_no_answer=False, lifetime=left, search=False
            )
        except dns.resolver.NXDOMAIN:
            continue
        except dns.exception.Timeout:
            raise LookupFailed(f"CAA lookup of {candidate} timed out after {timeout:g} s") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"CAA lookup of {candidate} failed: {str(exc)[:200]}") from None
        if answer.rrset is not None and len(answer.rrset) > 0:
            return candidate, _records(answer)
    return None, ()


def issuance_problem(
    domains: tuple[str, ...], identity: str, nameserver: str | None, timeout: float
) -> str | None:
    """Why the CA must refuse to issue for these names, or None. Checked before a first
    issuance, so that the CA is never asked for what its CAA check will refuse. A lookup
    that fails is logged and passes: DNS trouble never blocks an issuance (the CA checks)."""
    from certkeeper.log import get_logger

    for domain in domains:
        try:
            found_at, records = lookup(domain, nameserver, timeout)
        except LookupFailed as exc:
            get_logger(command="check").warning("caa.lookup_failed", domain=domain, error=str(exc))
            continue
        verdict = decide(domain, found_at, records, identity)
        if not verdict.allowed:
            return (
                f"CAA forbids the CA: {verdict.reason}. Fix: {verdict.fix}. certkeeper did not"
                " contact the CA (it would refuse the order)."
            )
    return None
