"""`certkeeper metrics`: the Prometheus text format for node_exporter's textfile collector.

Every `check` also writes it to `metrics_file`, so a fleet's Prometheus sees each
certificate, each renewal streak and the agent's own heartbeat without a server of ours.
What is gathered: samples.py; the text: render/metrics.py.
"""

from __future__ import annotations

from datetime import datetime

from certkeeper.config import Config
from certkeeper.samples import Sample, gather, write

__all__ = ["metrics", "write"]


def metrics(cfg: Config, now: datetime) -> list[Sample]:
    """`certkeeper metrics`: read-only, so a corrupt state file is left where it is."""
    from certkeeper import state as state_mod

    return gather(cfg, now, state_mod.load(cfg.state_dir, now, repair=False))
