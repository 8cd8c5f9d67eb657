"""A notice as the outbox keeps it: what to tell, not how one channel spells it.

The subject and body are the card texts compose.py writes; each channel turns them into
its own shape (an e-mail, a JSON POST). `channels` holds the delivery state per channel:
the ISO time it was delivered, or None while it waits.
"""

from __future__ import annotations

import json
from datetime import datetime

from certkeeper.names import has_control_chars
from certkeeper.times import from_iso, iso
from certkeeper.value import Value, field

FORMAT = 1


class Notice(Value):
    event_id: str
    kind: str
    subject: str
    body: str
    host: str
    cert_name: str
    domains: tuple[str, ...]
    created: datetime
    channels: dict[str, str | None] = field(default_factory=dict)
    # A message an earlier release spooled as e-mail bytes: the SMTP channel sends these
    # bytes as they are. Never written back; only `.eml` files carry it.
    raw: bytes | None = field(default=None, repr=False)

    def waiting(self) -> list[str]:
        """The channels this notice has not reached yet."""
        return [name for name, done in self.channels.items() if done is None]

    def delivered_by(self, channel: str, at: datetime) -> Notice:
        return self.replace(channels={**self.channels, channel: iso(at)})

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "event_id": self.event_id,
            "kind": self.kind,
            "subject": self.subject,
            "body": self.body,
            "host": self.host,
            "cert_name": self.cert_name,
            "domains": list(self.domains),
            "created": iso(self.created),
            "channels": self.channels,
        }
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def _text(doc: dict[str, object], name: str, limit: int = 500) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"no {name}")
    return value


def from_json(data: bytes, event_id: str) -> Notice:
    """The notice in a file certkeeper wrote; ValueError for anything else."""
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a notice (no format 1)")
    if doc.get("event_id") != event_id:
        raise ValueError("its event_id is not its file name")
    created = from_iso(doc.get("created"))
    domains = doc.get("domains")
    channels = doc.get("channels")
    if created is None or not isinstance(domains, list) or not isinstance(channels, dict):
        raise ValueError("not a notice (created, domains or channels missing)")
    if not channels:
        # Nothing would ever be sent, yet it would count as delivered: not one of ours.
        raise ValueError("not a notice (no channel)")
    subject = _text(doc, "subject")
    if has_control_chars(subject) or not all(isinstance(d, str) for d in domains):
        raise ValueError("not a notice (a control character in the subject)")
    return Notice(
        event_id=event_id,
        kind=_text(doc, "kind", 40),
        subject=subject,
        body=_text(doc, "body", 1 << 19),
        host=_text(doc, "host", 253),
        cert_name=_text(doc, "cert_name", 255),
        domains=tuple(domains),
        created=created,
        channels={str(k): v if isinstance(v, str) else None for k, v in channels.items()},
    )
