"""What happened, as plain values: the input of `compose`, and of nothing heavier.

Kept apart from compose.py so that a `check` run with nothing to report never
imports the e-mail machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_CERTBOT_LOG = "/var/log/letsencrypt/letsencrypt.log"


@dataclass(frozen=True)
class Renewed:
    """A renewal (or first issuance) that was verified end to end."""

    cert_name: str
    domains: tuple[str, ...]
    at: datetime
    previous_expiry: datetime | None
    new_expiry: datetime
    new_not_before: datetime
    notes: tuple[str, ...] = ()
    # First issuance only (a renewal is a SUCCESS only when every name serves it): the
    # names nginx does not serve the new certificate on yet, one sentence each, and the
    # ssl_certificate lines their server block must use.
    not_served: tuple[str, ...] = ()
    server_block: tuple[str, ...] = ()

    kind = "success"


@dataclass(frozen=True)
class Failed:
    """Any renewal or deploy that did not end with nginx serving the new certificate."""

    cert_name: str
    domains: tuple[str, ...]
    at: datetime
    current_expiry: datetime | None
    step: str
    output: str
    webroot: str = "/var/www/letsencrypt"
    certbot_log: str = DEFAULT_CERTBOT_LOG
    notes: tuple[str, ...] = ()

    kind = "error"


@dataclass(frozen=True)
class Expiring:
    """A certificate that crossed one of notify.warn_days without being renewed."""

    cert_name: str
    domains: tuple[str, ...]
    at: datetime
    expiry: datetime
    threshold: int
    monitor_only: bool
    last_error: str | None = None
    failures: int = 0

    @property
    def kind(self) -> str:
        return f"warning{self.threshold}"


@dataclass(frozen=True)
class Reloaded:
    """nginx was serving an older certificate than the one on disk and has been reloaded."""

    cert_name: str
    domains: tuple[str, ...]
    at: datetime
    stale_serials: tuple[str, ...]
    disk_expiry: datetime
    notes: tuple[str, ...] = field(default=())

    kind = "reloaded"


Event = Renewed | Failed | Expiring | Reloaded


def event_id(event: Event) -> str:
    """Stable id of a notice: one e-mail per id, however often delivery is retried."""
    return f"{event.cert_name}.{event.kind}.{event.at:%Y%m%dT%H%M%SZ}"
