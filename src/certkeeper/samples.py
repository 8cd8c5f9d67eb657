"""What the metrics say, gathered from a survey and the state: each certificate, each
renewal streak and the agent's own heartbeat. render/metrics.py words them; `write` puts
the text in a file (`certkeeper metrics --output`, and `check` for metrics_file).

The decisions are the ones `status` and `check` make, from the same inputs: the next
renewal is the plan status shows (the CA's ARI window included), and "renewal due" is
what `check` would do with the window it cached for the certificate on disk.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from certkeeper import __version__, ari, atomic, policy
from certkeeper.config import Config, Lineage, Service
from certkeeper.state import AriRecord, State
from certkeeper.survey import Row, renewal_of
from certkeeper.value import Value

Labels = tuple[tuple[str, str], ...]


class Sample(Value):
    name: str
    labels: Labels
    value: float


def _stamp(moment: datetime) -> float:
    return float(int(moment.timestamp()))


def _renewal_due(svc: Service, rows: list[Row], record: AriRecord | None, now: datetime) -> bool:
    disk = rows[0].disk if rows else None
    # Only certificates that name the domain count, as in `check`: another site's
    # certificate answering for a name nginx does not serve yet decides nothing.
    served = [r.probe.cert if r.probe.covered else None for r in rows]
    return policy.renewal_due(
        served,
        disk,
        renewal_days=svc.renewal_days,
        now=now,
        ari=ari.window_for(record, disk),
        managed=svc.enabled,
    )


def _cert_samples(row: Row, base: Labels) -> list[Sample]:
    samples: list[Sample] = []
    for source, cert in (("served", row.probe.cert), ("disk", row.disk)):
        if cert is None:
            continue
        labels = (*base, ("source", source))
        samples.append(
            Sample("certkeeper_cert_not_after_timestamp_seconds", labels, _stamp(cert.not_after))
        )
        samples.append(
            Sample("certkeeper_cert_not_before_timestamp_seconds", labels, _stamp(cert.not_before))
        )
    return samples


def _next_renewal(
    svc: Service, row: Row, record: AriRecord | None, now: datetime
) -> datetime | None:
    plan = renewal_of(svc, row.probe, row.disk, record, now)[0]
    if plan is not None:
        return plan.next_at
    # Monitor-only: nobody here renews it, but the window still says when a person should.
    planned = row.disk or row.probe.cert
    return policy.next_renewal(planned, svc.renewal_days, None, now) if planned else None


def _lineage_samples(
    svc: Service, lineage: Lineage, rows: list[Row], state: State, now: datetime
) -> list[Sample]:
    rec = state.certs.get(lineage.cert_name)
    record = rec.ari if rec else None
    samples: list[Sample] = []
    due = 1.0 if _renewal_due(svc, rows, record, now) else 0.0
    for row in rows:
        base: Labels = (
            ("service", svc.name),
            ("cert_name", lineage.cert_name),
            ("domain", row.domain),
        )
        samples.extend(_cert_samples(row, base))
        samples.append(Sample("certkeeper_cert_renewal_due", base, due))
        next_at = _next_renewal(svc, row, record, now)
        if next_at is not None:
            samples.append(
                Sample("certkeeper_cert_next_renewal_timestamp_seconds", base, _stamp(next_at))
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
    if rec and rec.rehearsal:
        done = rec.rehearsal
        samples.append(
            Sample("certkeeper_rehearsal_last_timestamp_seconds", labels, _stamp(done.at))
        )
        samples.append(Sample("certkeeper_rehearsal_success", labels, 1.0 if done.ok else 0.0))
    return samples


def collect(
    cfg: Config, rows: list[Row], state: State, outbox_waiting: int, now: datetime
) -> list[Sample]:
    samples: list[Sample] = []
    for svc in cfg.services:
        for lineage in svc.lineages:
            mine = [r for r in rows if r.lineage.cert_name == lineage.cert_name]
            samples.extend(_lineage_samples(svc, lineage, mine, state, now))
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


def gather(cfg: Config, now: datetime, state: State, rows: list[Row] | None = None) -> list[Sample]:
    """The samples for every configured certificate. `rows` may come from a survey that
    just ran (a quiet `check`); otherwise every name is probed now, with the ARI windows
    the last `check` cached, as `status` does."""
    from certkeeper.notify.outbox import count
    from certkeeper.survey import survey

    if rows is None:
        records = {name: rec.ari for name, rec in state.certs.items()}
        rows = survey(cfg, cfg.services, now, ari_records=records)
    return collect(cfg, rows, state, count(cfg.state_dir), now)


def write(path: Path, body: str) -> None:
    """Atomically, world-readable: node_exporter must never read half a file, and it
    runs as its own user."""
    atomic.write_bytes(path, body.encode(), mode=0o644)
