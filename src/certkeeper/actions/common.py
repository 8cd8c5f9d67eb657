"""What more than one command says about the same config: `check` and `config validate`
both warn of a silent host, `status` and `config validate` both warn of a window that
cannot be honoured. Kept here so that no action imports another."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from certkeeper import policy

if TYPE_CHECKING:
    from certkeeper.config import Config, Lineage, Service
    from certkeeper.x509info import CertInfo


def unsent_warning(cfg: Config) -> str | None:
    """A host without notify.to renews silently: nobody would hear of an ERROR.
    A webhook alone is a way out too, so it silences this warning."""
    if cfg.notify.to is not None or cfg.notify.webhook.url_file is not None:
        return None
    return (
        f"notify.to is not set in {cfg.path}: notices go nowhere, so no SUCCESS, ERROR or "
        "WARNING card reaches the team; set notify.to to the board's address"
    )


def shadow_warning(cfg: Config) -> str | None:
    """A host in shadow mode looks healthy while nothing on it would ever be renewed."""
    if not cfg.shadow:
        return None
    return (
        f"this host is in shadow mode (mode: shadow in {cfg.path}): check decides but never"
        " renews, reloads or sends; set mode: active to let it renew"
    )


def mode_warnings(cfg: Config) -> list[str]:
    """What `status` says about the host before its certificates: shadow mode, and each
    config mistake that holds the notices back or skips ARI."""
    shadow = shadow_warning(cfg)
    return [*([shadow] if shadow else []), *(m.text for m in cfg.mistakes)]


def window_warnings(items: Iterable[tuple[Service, Lineage, CertInfo | None]]) -> list[str]:
    """One warning per certificate whose service's certbot_renewal_days cannot be honoured.

    Only for a service that sets the key itself: the default gives way to the
    lifetime rule silently, a team's explicit choice does not.
    """
    seen: set[str] = set()
    found: list[str] = []
    for svc, lineage, cert in items:
        if cert is None or lineage.cert_name in seen:
            continue
        seen.add(lineage.cert_name)
        if not svc.enabled or not svc.renewal_days_set:
            continue
        text = policy.ignored_window_warning(svc.name, lineage.cert_name, svc.renewal_days, cert)
        if text:
            found.append(text)
    return found
