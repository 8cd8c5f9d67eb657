"""`certkeeper metrics`: the Prometheus text format for node_exporter's textfile collector.

Every `check` also writes it to `metrics_file`, so a fleet's Prometheus sees each
certificate, each renewal streak and the agent's own heartbeat without a server of
ours. Names and labels follow node_exporter (`_timestamp_seconds`, `_info`) and
x509-certificate-exporter (`not_after`, `not_before`), so that alert rules can use
the lifetime (not_after - not_before) instead of fixed days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from certkeeper import __version__, atomic, policy
from certkeeper.config import Config, Lineage, Service
from certkeeper.state import State
from certkeeper.survey import Row
from certkeeper.x509info import CertInfo

# name -> help text, in the order the file lists them.
FAMILIES: dict[str, str] = {
    "certkeeper_cert_not_after_timestamp_seconds": (
        "When the certificate expires, as served by this host's nginx or as on disk."
    ),
    "certkeeper_cert_not_before_timestamp_seconds": (
        "When the certificate became valid; not_after - not_before is its lifetime."
    ),
    "certkeeper_cert_renewal_due": (
        "1 when the next check renews or issues this certificate (monitor-only: when it is "
        "inside its renewal window and needs a person)."
    ),
    "certkeeper_cert_next_renewal_timestamp_seconds": (
        "When the certificate on disk enters its renewal window."
    ),
    "certkeeper_cert_served_matches_disk": (
        "1 when nginx serves the certificate on disk for this name; 0 when it serves another "
        "one or none (renewed but not reloaded, or not answering)."
    ),
    "certkeeper_renewal_last_attempt_timestamp_seconds": "When certbot last ran for this lineage.",
    "certkeeper_renewal_last_success_timestamp_seconds": (
        "When a renewal or issuance of this lineage was last verified end to end."
    ),
    "certkeeper_renewal_consecutive_failures": "Failed renewal attempts in a row.",
    "certkeeper_outbox_messages": "Notices waiting in the outbox to be delivered.",
    "certkeeper_check_last_run_timestamp_seconds": "When `certkeeper check` last ran to the end.",
    "certkeeper_check_success": "1 when that check run succeeded, 0 when it reported a problem.",
    "certkeeper_info": "The running certkeeper version.",
    "certkeeper_mode": (
        "1 for the mode the config sets: shadow (decides, changes nothing) or active (renews)."
    ),
    "certkeeper_config_mistake": (
        "1 for each config key whose mistake holds the notices back or skips ARI; renewals go on."
    ),
}

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float


def next_renewal(cert: CertInfo, renewal_days: int) -> datetime:
    """When `cert` becomes due under today's policy (a fixed window capped by the lifetime).

    The one place that answers "when is the next renewal": when ACME Renewal Information
    lands, switch this function to the ARI window and the metric follows.
    """
    return cert.not_after - policy.renewal_window(cert.not_after - cert.not_before, renewal_days)


def _stamp(moment: datetime) -> float:
    return float(int(moment.timestamp()))


def _renewal_due(svc: Service, rows: list[Row], now: datetime) -> bool:
    disk = rows[0].disk if rows else None
    # Only certificates that name the domain count, as in `check`: another site's
    # certificate answering for a name nginx does not serve yet decides nothing.
    served = [r.probe.cert if r.probe.covered else None for r in rows]
    if svc.enabled:
        action = policy.plan(served, disk, renewal_days=svc.renewal_days, now=now)
        return action in (policy.Action.RENEW, policy.Action.ISSUE)
    deciding = policy.earliest(disk, *served)
    return deciding is not None and (
        deciding.not_after <= now or policy.is_due(deciding, svc.renewal_days, now)
    )


def _lineage_samples(
    svc: Service, lineage: Lineage, rows: list[Row], now: datetime
) -> list[Sample]:
    samples: list[Sample] = []
    due = 1.0 if _renewal_due(svc, rows, now) else 0.0
    for row in rows:
        base: Labels = (
            ("service", svc.name),
            ("cert_name", lineage.cert_name),
            ("domain", row.domain),
        )
        for source, cert in (("served", row.probe.cert), ("disk", row.disk)):
            if cert is None:
                continue
            labels = (*base, ("source", source))
            samples.append(
                Sample(
                    "certkeeper_cert_not_after_timestamp_seconds", labels, _stamp(cert.not_after)
                )
            )
            samples.append(
                Sample(
                    "certkeeper_cert_not_before_timestamp_seconds", labels, _stamp(cert.not_before)
                )
            )
        samples.append(Sample("certkeeper_cert_renewal_due", base, due))
        planned = row.disk or row.probe.cert
        if planned is not None:
            samples.append(
                Sample(
                    "certkeeper_cert_next_renewal_timestamp_seconds",
                    base,
                    _stamp(next_renewal(planned, svc.renewal_days)),
                )
            )
        if row.disk is not None:
            same = row.probe.cert is not None and row.probe.cert.serial == row.disk.serial
            samples.append(
                Sample("certkeeper_cert_served_matches_disk", base, 1.0 if same else 0.0)
            )
    return samples


def _renewal_samples(lineage: Lineage, state: State) -> list[Sample]:
    rec = state.certs.get(lineage.cert_name)
    labels: Labels = (("cert_name", lineage.cert_name),)
    samples = [
        Sample(
            "certkeeper_renewal_consecutive_failures",
            labels,
            float(rec.consecutive_failures if rec else 0),
        )
    ]
    if rec and rec.last_attempt:
        samples.append(
            Sample(
                "certkeeper_renewal_last_attempt_timestamp_seconds",
                labels,
                _stamp(rec.last_attempt),
            )
        )
    if rec and rec.last_success:
        samples.append(
            Sample(
                "certkeeper_renewal_last_success_timestamp_seconds",
                labels,
                _stamp(rec.last_success),
            )
        )
    return samples


def collect(
    cfg: Config, rows: list[Row], state: State, outbox_waiting: int, now: datetime
) -> list[Sample]:
    samples: list[Sample] = []
    for svc in cfg.services:
        for lineage in svc.lineages:
            mine = [r for r in rows if r.lineage.cert_name == lineage.cert_name]
            samples.extend(_lineage_samples(svc, lineage, mine, now))
            if svc.enabled:
                samples.extend(_renewal_samples(lineage, state))
    samples.append(Sample("certkeeper_outbox_messages", (), float(outbox_waiting)))
    if state.check_run is not None:
        samples.append(
            Sample("certkeeper_check_last_run_timestamp_seconds", (), _stamp(state.check_run.at))
        )
        samples.append(
            Sample("certkeeper_check_success", (), 1.0 if state.check_run.success else 0.0)
        )
    samples.append(Sample("certkeeper_info", (("version", __version__),), 1.0))
    samples.append(Sample("certkeeper_mode", (("mode", cfg.mode),), 1.0))
    samples.extend(
        Sample("certkeeper_config_mistake", (("key", m.key),), 1.0) for m in cfg.mistakes
    )
    return samples


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def render(samples: list[Sample]) -> str:
    """The text exposition format: each family's HELP and TYPE, then its samples."""
    lines: list[str] = []
    for name, help_text in FAMILIES.items():
        mine = [s for s in samples if s.name == name]
        if not mine:
            continue
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for s in mine:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
            lines.append(
                f"{name}{{{labels}}} {_value(s.value)}" if labels else f"{name} {_value(s.value)}"
            )
    return "\n".join(lines) + "\n"


def gather(cfg: Config, now: datetime, state: State, rows: list[Row] | None = None) -> str:
    """The metrics text for every configured certificate. `rows` may come from a survey
    that just ran (a quiet `check`); otherwise every name is probed now."""
    from certkeeper.notify.outbox import count
    from certkeeper.survey import survey

    if rows is None:
        rows = survey(cfg, cfg.services, now)
    return render(collect(cfg, rows, state, count(cfg.state_dir), now))


def write(path: Path, text: str) -> None:
    """Atomically, world-readable: node_exporter must never read half a file, and it
    runs as its own user."""
    atomic.write_bytes(path, text.encode(), mode=0o644)


def run(cfg: Config, now: datetime) -> str:
    """`certkeeper metrics`: read-only, so a corrupt state file is left where it is."""
    from certkeeper import state as state_mod

    return gather(cfg, now, state_mod.load(cfg.state_dir, now, repair=False))


def after_check(cfg: Config, state: State, now: datetime, rows: list[Row] | None) -> str | None:
    """Write `metrics_file` after a check run; a problem comes back as one line."""
    if cfg.metrics_file is None:
        return None
    try:
        write(cfg.metrics_file, gather(cfg, now, state, rows))
    except OSError as exc:
        return f"cannot write metrics_file {cfg.metrics_file}: {exc.strerror or exc}"
    return None
