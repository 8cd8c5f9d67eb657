"""Gather what is true now: what each domain serves and what lies on disk.

This is the only place `status` and `check` look at the world before deciding;
the decisions themselves are in `policy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from certkeeper import ari, names, policy
from certkeeper.certbot import read_disk_keyed
from certkeeper.certcache import CertCache, der_key
from certkeeper.config import Config, Lineage, Service
from certkeeper.probe import ProbeResult, Probes, Target, probe_many
from certkeeper.state import AriRecord, Paused
from certkeeper.value import Value
from certkeeper.x509info import CertInfo


class Row(Value):
    service: Service
    lineage: Lineage
    domain: str
    probe: ProbeResult
    disk: CertInfo | None
    disk_error: str | None
    assessment: policy.Assessment
    # When and by which rule the certificate is renewed (None: monitor-only or nothing to plan).
    plan: policy.RenewalPlan | None = None
    ari: AriRecord | None = None  # the CA's cached answer, when it is about this certificate
    paused: Paused | None = None  # the CA refuses new orders for it (status reads state)


def connect_host(cfg: Config, sni: str) -> str:
    """Where a probe connects. By default this host's own nginx: the two hosts of a pair
    serve the same names, and an agent must judge what *its* nginx serves."""
    mode = cfg.probe.connect_host
    if mode == names.PROBE_LOCAL:
        return names.LOOPBACK
    return sni if mode == names.PROBE_DNS else mode


def probe_view(cfg: Config) -> str:
    """One line naming what `served` means in this run, for status and doctor."""
    mode, port = cfg.probe.connect_host, cfg.probe.port
    if mode == names.PROBE_LOCAL:
        return f"this host's nginx at {names.LOOPBACK}:{port} (probe.connect_host: local)"
    if mode == names.PROBE_DNS:
        return (
            f"each name as public DNS resolves it, port {port} (probe.connect_host: dns; "
            "on a pair of hosts this may be the other host)"
        )
    return f"{mode}:{port} (probe.connect_host: {mode})"


def target_for(cfg: Config, domain: str) -> Target:
    # A wildcard name cannot be sent as SNI; ask for a representative name under it.
    sni = "certkeeper-probe." + domain[2:] if domain.startswith("*.") else domain
    return Target(sni, connect_host(cfg, sni), cfg.probe.port)


def probe_domains(cfg: Config, domains: list[str], trust: bool = False) -> list[ProbeResult]:
    return probe_many(
        (target_for(cfg, d) for d in domains),
        cfg.probe.timeout_seconds,
        cfg.probe.concurrency,
        trust=trust,
    )


def start_probes(cfg: Config, domains: list[str], trust: bool = False) -> Probes:
    return Probes(
        (target_for(cfg, d) for d in domains),
        cfg.probe.timeout_seconds,
        cfg.probe.concurrency,
        trust=trust,
    )


def survey(
    cfg: Config,
    services: tuple[Service, ...],
    now: datetime,
    trust: bool = False,
    ari_records: Mapping[str, AriRecord | None] | None = None,
) -> list[Row]:
    """trust=True also checks each served chain against the system CA store (for status).

    `ari_records` are the CA windows `check` cached per cert_name; survey never asks the CA.
    """
    pairs = [(svc, lin, dom) for svc in services for lin in svc.lineages for dom in lin.domains]
    # The probes first: they wait on the network while this thread reads the disk
    # (which also pays for importing the certificate parser).
    probes = start_probes(cfg, [dom for _, _, dom in pairs], trust=trust)
    try:
        disks = _read_disks(cfg, services)
    except BaseException:
        probes.cancel()
        raise
    # A served certificate whose DER is a disk certificate's DER *is* that certificate.
    on_disk = {digest: cert for cert, digest, _ in disks.values() if cert and digest}
    results = probes.results(lambda der: on_disk.get(der_key(der)) if on_disk else None)
    records = ari_records or {}
    return [
        _row(cfg, pair, result, disks[pair[1].cert_name], records.get(pair[1].cert_name), now)
        for pair, result in zip(pairs, results, strict=True)
    ]


_Disk = tuple[CertInfo | None, str | None, str | None]  # (cert, DER sha256, why unreadable)


def _read_disks(cfg: Config, services: tuple[Service, ...]) -> dict[str, _Disk]:
    cache = CertCache(cfg.state_dir)
    disks = {
        lin.cert_name: read_disk_keyed(cfg, lin.cert_name, cache)
        for svc in services
        for lin in svc.lineages
    }
    # Whoever parsed a disk certificate remembers it for the next run (see certcache).
    cache.save()
    return disks


def renewal_of(
    svc: Service,
    result: ProbeResult,
    disk: CertInfo | None,
    record: AriRecord | None,
    now: datetime,
) -> tuple[policy.RenewalPlan | None, policy.AriWindow | None]:
    """When this row's certificate is renewed (None: monitor-only, or nothing to plan),
    and the CA's window that applies to it: what `status` shows and the metrics say."""
    # Only a certificate that names the domain counts: nginx's default server
    # answering for a name it does not serve yet says nothing about this lineage.
    deciding = policy.earliest(result.cert if result.covered else None, disk)
    window = ari.window_for(record, deciding)
    if not svc.enabled or deciding is None:
        return None, window
    return policy.renewal_plan(deciding, svc.renewal_days, window, now), window


def _row(
    cfg: Config,
    pair: tuple[Service, Lineage, str],
    result: ProbeResult,
    on_disk: _Disk,
    record: AriRecord | None,
    now: datetime,
) -> Row:
    svc, lin, dom = pair
    disk, _, disk_error = on_disk
    plan, window = renewal_of(svc, result, disk, record, now)
    assessment = policy.assess(
        result.target.domain,
        policy.Observed(result.cert, result.error, disk, disk_error),
        policy.Judging(not svc.enabled, svc.renewal_days, cfg.notify.warn_days),
        now,
        window,
    )
    kept = record if window is not None else None
    return Row(svc, lin, dom, result, disk, disk_error, assessment, plan, kept)
