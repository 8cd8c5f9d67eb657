"""`certkeeper status`: what this host should serve, what it serves, what is on disk.

Read-only: it probes, reads the lineages and the state, and changes nothing; the ARI
windows it shows are the ones the last `check` cached (it never asks the CA).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from certkeeper import policy
from certkeeper.actions.common import mode_warnings, window_warnings
from certkeeper.config import Config, select
from certkeeper.errors import ConfigError
from certkeeper.value import Record, field

if TYPE_CHECKING:
    from certkeeper.state import CertRecord
    from certkeeper.survey import Row


class StatusResult(Record):
    rows: list[Row]
    outbox_waiting: int
    exit_code: int
    # What "served" means in this run (this host's nginx, or DNS), for the reader.
    view: str
    generated_at: datetime
    warnings: list[str] = field(default_factory=list)
    quarantined: int = 0  # unreadable outbox files set aside for a person
    # "shadow": check decides but changes nothing on this host; "active": it renews.
    mode: str = "active"


def status(cfg: Config, only: str | None, now: datetime) -> StatusResult:
    from certkeeper import state as state_mod
    from certkeeper.notify.outbox import count, quarantined
    from certkeeper.survey import probe_view, survey

    if not cfg.services:
        # A host whose service files were never rendered is not a healthy host.
        raise ConfigError([f"no service configured in {cfg.services_dir}"])
    services = select(cfg, only)
    memory = state_mod.load(cfg.state_dir, now, repair=False)
    ari_records = {name: rec.ari for name, rec in memory.certs.items()}
    rows = survey(cfg, services, now, trust=True, ari_records=ari_records)
    rows = [_paused(row, memory.certs.get(row.lineage.cert_name)) for row in rows]
    code = policy.status_exit_code(r.assessment for r in rows)
    if cfg.mistakes:
        code = max(code, 1)  # WARNING: the certificates are fine, the report is not
    return StatusResult(
        rows=rows,
        outbox_waiting=count(cfg.state_dir),
        exit_code=code,
        warnings=[
            *mode_warnings(cfg),
            *window_warnings((r.service, r.lineage, r.disk or r.probe.cert) for r in rows),
        ],
        quarantined=len(quarantined(cfg.state_dir)),
        view=probe_view(cfg),
        generated_at=now,
        mode=cfg.mode,
    )


def _paused(row: Row, rec: CertRecord | None) -> Row:
    """A lineage the CA paused (as `check` recorded it) shows PAUSED, with the link; each
    managed row carries its last rehearsal."""
    if rec is not None and rec.rehearsal is not None and row.service.enabled:
        row = row.replace(rehearsal=rec.rehearsal)
    if rec is None or rec.paused is None or not row.service.enabled:
        return row
    why = f"paused by the CA since {rec.paused.since:%Y-%m-%d %H:%M} UTC"
    return row.replace(assessment=policy.paused_row(row.assessment, why), paused=rec.paused)
