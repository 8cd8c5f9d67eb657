"""The host's mode and the config mistakes that cost only the report: shadow mode is a
finding, not a failure (it is how a host is rolled out); a mistake fails the check."""

from __future__ import annotations

from certkeeper.actions.doctor.base import Result, clean
from certkeeper.config import Config


def check_mode(cfg: Config) -> Result:
    title = "Mode and config mistakes"
    if cfg.shadow:
        said = (
            "shadow: check decides but never renews, reloads or sends"
            f" (mode: shadow in {cfg.path}); set mode: active to let it renew"
        )
    else:
        said = "active: check renews, reloads and sends"
    if not cfg.mistakes:
        return Result("mode", title, "", True, said)
    found = "; ".join(clean(m.text, 300) for m in cfg.mistakes)
    fix = "fix " + " and ".join(m.key for m in cfg.mistakes) + f" in {cfg.path}"
    return Result("mode", title, "", False, f"{found}; {said}", fix)
