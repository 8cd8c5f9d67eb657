"""nginx: test the configuration, then reload. Nothing else talks to nginx.

A reload command exiting 0 proves little (nginx -s reload and systemctl reload
return before the new config is loaded, and a failed load shows only in
nginx's error log), so callers verify with a TLS probe afterwards.
"""

from __future__ import annotations

from certkeeper import proc
from certkeeper.config import Config


def test_config(cfg: Config) -> proc.Result:
    return proc.run(cfg.nginx.test_command, timeout=cfg.nginx.timeout_seconds)


def reload(cfg: Config) -> proc.Result:
    return proc.run(cfg.nginx.reload_command, timeout=cfg.nginx.timeout_seconds)
