"""Helpers for the fleet tests (metrics, report): global keys the Host helper does not
write, and the Prometheus text format read back with prometheus_client's own parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from support.host import Host
from support.run import merged


def configure(host: Host, **keys: Any) -> None:
    """Add global keys to the host's config; they stay through later host.add() calls."""
    host.extra_config = merged(host.extra_config, keys)
    host.write()


class Metrics:
    """Parsed exposition text: every sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def find(self, name: str, **labels: str) -> list[Any]:
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        found = self.find(name, **labels)
        assert len(found) == 1, (name, labels, found, self.text)
        return float(found[0].value)


def read_metrics(path: Path) -> Metrics:
    return Metrics(path.read_text())
