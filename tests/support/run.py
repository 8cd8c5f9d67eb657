"""Run certkeeper as the user does: a real process, its exit code and its output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml


def certkeeper(
    config: Path | None, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "certkeeper"]
    if config is not None:
        argv += ["--config", str(config)]
    full_env = dict(os.environ)
    full_env.pop("CERTKEEPER_CONFIG", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        argv + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# A value that leaves its key out of the written file (a key the test wants at its default).
OMIT = object()


def merged(base: Mapping[str, object], overrides: Mapping[str, object]) -> dict[str, object]:
    """`base` with `overrides` laid over it: nested mappings merge key by key. An OMIT stays
    in the result, so it still drops the key when write_config lays it over its defaults."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)  # type: ignore[arg-type]
        else:
            out[key] = value
    return out


def _without_omitted(doc: Mapping[str, object]) -> dict[str, object]:
    return {
        key: _without_omitted(value) if isinstance(value, Mapping) else value
        for key, value in doc.items()
        if value is not OMIT
    }


def write_config(
    folder: Path, services: Mapping[str, object] | None = None, **overrides: object
) -> Path:
    """A global config under `folder` with state, lock and services inside it: the one
    writer of test configs. `overrides` merge into the defaults (see `merged`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "services.d").mkdir(exist_ok=True)
    defaults: dict[str, object] = {
        "hostname": "testhost",
        "services_dir": "services.d",
        "state_dir": "state",
        "lock_file": "run/certkeeper.lock",
        "jitter_seconds": 0,
        "certbot": {"config_dir": "letsencrypt"},
        "nginx": {"certs_dir": "nginx-certs"},
        # probe.connect_host is left at its default: this host's nginx on 127.0.0.1.
        "probe": {"timeout_seconds": 2},
    }
    path = folder / "config.yaml"
    doc = _without_omitted(merged(defaults, overrides))
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    for name, service in (services or {}).items():
        (folder / "services.d" / f"{name}.yaml").write_text(
            yaml.safe_dump(service, sort_keys=False)
        )
    return path


def service(
    cert_name: str,
    *domains: str,
    enabled: bool = True,
    renewal_days: int | None = 31,
    webroot: str = "/var/www/letsencrypt",
    link: str | None = None,
) -> dict[str, object]:
    """One service file; renewal_days=None leaves certbot_renewal_days unset (its default)."""
    doc: dict[str, object] = {
        "certbot_enabled": enabled,
        "certbot_email": "ops@example.com",
        "certbot_install_method": "pip",
        "certbot_renewal_days": renewal_days,
        "certbot_domains": [{"domains": list(domains), "webroot": webroot, "cert_name": cert_name}],
        "certbot_services": [{"name": link or cert_name, "cert_source": cert_name}],
    }
    if renewal_days is None:
        del doc["certbot_renewal_days"]
    return doc
