"""certbot's argv, pinned word for word: each flag is load-bearing.

--force-renewal: certbot's own rule (2/3 of the lifetime, ARI) would otherwise say "not
yet due" and exit 0 having renewed nothing, whenever the team's 31-day rule renews
earlier. --no-random-sleep-on-renew: without a TTY certbot sleeps up to 8 minutes first.
--cert-name: one lineage, never every lineage on the host. The config, work and logs
dirs: certbot's world is where the config says, not certbot's defaults.
"""

from __future__ import annotations

from pathlib import Path

from certkeeper import certbot
from certkeeper.config import Config, Lineage, Service, load
from support.run import service, write_config


def _cfg(tmp_path: Path) -> tuple[Config, Service, Lineage]:
    cfg = load(
        write_config(
            tmp_path,
            {"shop": service("shop", "shop.example.com", "www.shop.example.com")},
            certbot={
                "command": ["/usr/bin/certbot"],
                "config_dir": str(tmp_path / "le"),
                "extra_args": [
                    "--work-dir",
                    str(tmp_path / "work"),
                    "--logs-dir",
                    str(tmp_path / "logs"),
                ],
            },
        )
    )
    return cfg, cfg.services[0], cfg.services[0].lineages[0]


def test_renew_argv_is_pinned(tmp_path: Path) -> None:
    cfg, _, lineage = _cfg(tmp_path)
    assert certbot.renew_argv(cfg, lineage) == [
        "/usr/bin/certbot", "renew",
        "--cert-name", "shop",
        "--force-renewal",
        "--no-random-sleep-on-renew",
        "--non-interactive",
        "--config-dir", str(tmp_path / "le"),
        "--work-dir", str(tmp_path / "work"),
        "--logs-dir", str(tmp_path / "logs"),
    ]  # fmt: skip


def test_issue_argv_is_pinned(tmp_path: Path) -> None:
    cfg, svc, lineage = _cfg(tmp_path)
    assert certbot.issue_argv(cfg, svc, lineage) == [
        "/usr/bin/certbot", "certonly",
        "--webroot", "-w", "/var/www/letsencrypt",
        "-d", "shop.example.com",
        "-d", "www.shop.example.com",
        "--cert-name", "shop",
        "--agree-tos",
        "-m", "ops@example.com",
        "--non-interactive",
        "--config-dir", str(tmp_path / "le"),
        "--work-dir", str(tmp_path / "work"),
        "--logs-dir", str(tmp_path / "logs"),
    ]  # fmt: skip


def test_the_log_is_found_where_logs_dir_puts_it(tmp_path: Path) -> None:
    cfg, _, _ = _cfg(tmp_path)
    assert certbot.logs_file(cfg) == str(tmp_path / "logs" / "letsencrypt.log")
