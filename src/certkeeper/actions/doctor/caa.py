"""Will the CA be allowed to issue? CAA for every name of a lineage (RFC 8659), asked of
`dns.nameserver` (or `doctor --nameserver`), decided by policy.caa. doctor never contacts
the CA: the identity is the configured `ca.caa_identity`."""

from __future__ import annotations

from certkeeper import caa
from certkeeper.actions.doctor.base import Options, Result, clean
from certkeeper.config import Config, Lineage
from certkeeper.policy.caa import decide

TITLE = "CAA allows the CA"


def check_caa(cfg: Config, lin: Lineage, opts: Options) -> Result:
    identity = cfg.ca.caa_identity
    nameserver = opts.nameserver or cfg.dns.nameserver
    allowed: list[str] = []
    refused: list[str] = []
    unknown: list[str] = []
    fixes: list[str] = []
    for domain in lin.domains:
        try:
            found_at, records = caa.lookup(domain, nameserver, cfg.dns.timeout_seconds)
        except caa.LookupFailed as exc:
            unknown.append(clean(str(exc), 200))
            continue
        verdict = decide(domain, found_at, records, identity)
        (allowed if verdict.allowed else refused).append(clean(verdict.reason, 300))
        if verdict.fix:
            fixes.append(clean(verdict.fix, 200))
    asked = f" (asked {nameserver})" if nameserver else ""
    if refused:
        return Result(
            "caa", TITLE, lin.cert_name, False, "; ".join(refused) + asked, "; ".join(fixes)
        )
    if unknown:
        return Result(
            "caa",
            TITLE,
            lin.cert_name,
            False,
            "; ".join(unknown) + asked,
            "check that the DNS server answers (dig CAA <name>), or name another one with"
            " --nameserver ADDR[:PORT]; the CA will ask too, so a lookup that fails there"
            " fails the order",
        )
    return Result("caa", TITLE, lin.cert_name, True, "; ".join(allowed) + asked)
