"""The rehearsal's certbot argv: a dry run, no hooks, and the staging server last."""

from __future__ import annotations

from pathlib import Path

import pytest

from certkeeper import certbot
from certkeeper.config import load
from certkeeper.errors import ConfigError
from support.run import service, write_config

PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


def test_the_dry_run_asks_rehearsal_server_last_so_it_wins_over_extra_args(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path,
        {"shop": service("shop", "shop.example.com")},
        certbot={"extra_args": ["--server", PRODUCTION, "--work-dir", "/w"]},
    )
    cfg = load(path)
    svc = cfg.services[0]
    argv = certbot.rehearse_argv(cfg, svc, svc.lineages[0], cfg.rehearsal.server)
    assert cfg.rehearsal.server == STAGING
    assert argv[-2:] == ["--server", STAGING]
    assert argv.index("--server") < argv.index("--work-dir") < len(argv) - 2
    assert "--dry-run" in argv and "--no-directory-hooks" in argv
    assert argv[1] == "certonly" and "--force-renewal" not in argv
    assert not {"--pre-hook", "--post-hook", "--deploy-hook"} & set(argv)


def test_a_rehearsal_server_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    for bad in ("staging", "https://a b/dir", "file:///etc/passwd", "https://x/\x1b[2J"):
        path = write_config(tmp_path, {}, rehearsal={"server": bad})
        with pytest.raises(ConfigError, match=r"rehearsal\.server"):
            load(path)
