"""The deploy hook script certbot runs after each renewal it makes, and its installer.

What the hook then does is `certkeeper deploy-hook`: actions/deploy_hook.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from certkeeper import atomic
from certkeeper.config import Config

HOOK_NAME = "certkeeper.sh"


def script_text(certkeeper_argv: list[str]) -> str:
    import shlex

    command = " ".join(shlex.quote(arg) for arg in certkeeper_argv)
    return (
        "#!/bin/sh\n"
        "# Written by `certkeeper install-hook` (and shipped by the certkeeper package).\n"
        "# certbot runs this after each renewal it makes; certkeeper makes the nginx\n"
        "# symlinks, runs nginx -t, reloads, verifies and notifies.\n"
        "# Logs: journalctl -t certbot-deploy -n 50\n"
        f"exec {command} deploy-hook\n"
    )


def install(cfg: Config, certkeeper_argv: list[str]) -> tuple[Path, bool]:
    """Write the hook script; returns (path, changed). Idempotent."""
    folder = cfg.certbot.config_dir / "renewal-hooks" / "deploy"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / HOOK_NAME
    text = script_text(certkeeper_argv).encode()
    try:
        unchanged = path.read_bytes() == text and os.access(path, os.X_OK)
    except OSError:
        unchanged = False
    if unchanged:
        return path, False
    atomic.write_bytes(
        path, text, mode=stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    )
    return path, True
