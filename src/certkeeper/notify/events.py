"""What happened, as plain values: the input of `compose`, and of nothing heavier.

Kept apart from compose.py so that a `check` run with nothing to report never
imports the e-mail machinery.
"""

from __future__ import annotations

from datetime import datetime

from certkeeper.value import Value, field

DEFAULT_CERTBOT_LOG = "/var/log/letsencrypt/letsencrypt.log"


class _About(Value):
    """What every notice is about: one lineage, its names, and when it happened."""

    cert_name: str
    domains: tuple[str, ...]
    at: datetime


class Renewed(_About):
    """A renewal (or first issuance) that was verified end to end."""

    previous_expiry: datetime | None
    new_expiry: datetime
    new_not_before: datetime
    notes: tuple[str, ...] = ()
    # First issuance only (a renewal is a SUCCESS only when every name serves it): the
    # names nginx does not serve the new certificate on yet, one sentence each, and the
    # ssl_certificate lines their server block must use.
    not_served: tuple[str, ...] = ()
    server_block: tuple[str, ...] = ()
    nonce: str = ""

    kind = "success"


class Failed(_About):
    """Any renewal or deploy that did not end with nginx serving the new certificate."""

    current_expiry: datetime | None
    step: str
    output: str
    webroot: str = "/var/www/letsencrypt"
    certbot_log: str = DEFAULT_CERTBOT_LOG
    notes: tuple[str, ...] = ()
    nonce: str = ""
    # A first issuance: no certificate of this lineage existed (the card says so).
    issuance: bool = False
    # The CA paused the name (its own words are in `output`): the card leads with that.
    ca_paused: bool = False
    unpause_link: str | None = None  # checked by policy.link_problem; None when refused

    kind = "error"


class Expiring(_About):
    """A certificate that crossed one of notify.warn_days without being renewed."""

    expiry: datetime
    threshold: int
    monitor_only: bool
    last_error: str | None = None
    failures: int = 0

    @property
    def kind(self) -> str:
        return f"warning{self.threshold}"


class Reloaded(_About):
    """nginx was serving an older certificate than the one on disk and has been reloaded."""

    stale_serials: tuple[str, ...]
    disk_expiry: datetime
    notes: tuple[str, ...] = field(default=())
    nonce: str = ""

    kind = "reloaded"


class RehearsalFailed(_About):
    """A rehearsal against the staging server failed: the next renewal will fail too."""

    service: str
    renewal_due: datetime | None  # when the real renewal falls due
    reason: str  # the CA's reason, or what certbot said last
    output: str
    server: str
    nonce: str = ""

    kind = "rehearsal"


Event = Renewed | Failed | Expiring | Reloaded | RehearsalFailed


class TestNotice(Value):
    """`certkeeper notify test`: proves the way to the board, about no certificate.

    Not an Event: it is sent at once, never spooled, and nothing in the state or the
    outbox ever refers to it.
    """

    __test__ = False  # pytest: a notice, not a test class

    hostname: str
    at: datetime
    nonce: str

    kind = "test"


def new_nonce() -> str:
    import secrets

    return secrets.token_hex(6)


def event_id(event: Event | TestNotice) -> str:
    """The id of a notice: one e-mail per id, however often delivery is retried.

    Unique per event: an action's notice carries the nonce of the intent that started it
    (two runs in the same second are two events, and the next run that finishes a killed
    run's story finds its notice by the nonce). A warning is identified by what it warns
    of, the certificate's expiry and the threshold, so re-creating it after a kill is a
    true duplicate and is sent once.
    """
    if isinstance(event, Expiring):
        return f"{event.cert_name}.{event.kind}.{event.expiry:%Y%m%dT%H%M%SZ}"
    if isinstance(event, TestNotice):
        return f"{event.kind}.{event.at:%Y%m%dT%H%M%SZ}.{event.nonce}"
    base = f"{event.cert_name}.{event.kind}.{event.at:%Y%m%dT%H%M%SZ}"
    return f"{base}.{event.nonce}" if event.nonce else base
