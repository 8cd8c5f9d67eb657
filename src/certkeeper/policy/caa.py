"""May this CA issue for this name? RFC 8659's decision, from the CAA records already found.

The lookup (certkeeper/caa.py) climbs from the name to its parents and stops at the first
name that has CAA records: that record set is the "relevant" one and decides alone. Here,
only the decision: pure, no DNS.
"""

from __future__ import annotations

from certkeeper.value import Value

# Flag bit 128: the issuer must understand the tag, or not issue (RFC 8659 section 4.1).
CRITICAL = 128
KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "contactemail", "contactphone"})


class Record(Value):
    flags: int
    tag: str
    value: str


class Verdict(Value):
    allowed: bool
    reason: str  # what a person reads: which records decided, and how
    fix: str = ""  # the record to add when not allowed


def _issuer(value: str) -> str:
    """The issuer-domain-name of an issue/issuewild value: `letsencrypt.org; account=...`
    names letsencrypt.org; an empty name (`;`) names no CA at all."""
    return value.split(";", 1)[0].strip().lower().rstrip(".")


def _allows(records: list[Record], identity: str) -> bool:
    return any(_issuer(r.value) == identity for r in records)


def decide(name: str, found_at: str | None, records: tuple[Record, ...], identity: str) -> Verdict:
    """`records` is the relevant record set, found at `found_at` (None: no CAA anywhere up
    the tree, and any CA may issue). `identity` is the CA's CAA identity (letsencrypt.org)."""
    identity = identity.lower().rstrip(".")
    if found_at is None or not records:
        return Verdict(True, f"{name}: no CAA records up to the top of the tree: any CA may issue")
    fix = f'{found_at}. CAA 0 issue "{identity}"'
    unknown_critical = [r for r in records if r.flags & CRITICAL and r.tag not in KNOWN_TAGS]
    if unknown_critical:
        tag = unknown_critical[0].tag
        return Verdict(
            False,
            f"{name}: CAA at {found_at} has the critical tag {tag!r}, which no CA may ignore",
            f"remove the critical flag of the {tag!r} record at {found_at}, or add {fix}",
        )
    issue = [r for r in records if r.tag == "issue"]
    if name.startswith("*."):
        wild = [r for r in records if r.tag == "issuewild"]
        if wild:
            issue, fix = wild, f'{found_at}. CAA 0 issuewild "{identity}"'
    if not issue:
        return Verdict(True, f"{name}: CAA at {found_at} restricts no issuer (no issue record)")
    if _allows(issue, identity):
        return Verdict(True, f"{name}: CAA at {found_at} allows {identity}")
    named = ", ".join(sorted({_issuer(r.value) or "no CA" for r in issue}))
    return Verdict(
        False,
        f"{name}: CAA at {found_at} allows only {named}, not {identity}: the CA must refuse",
        f"add {fix}",
    )
