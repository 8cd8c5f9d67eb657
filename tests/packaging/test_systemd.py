"""The shipped units pass systemd's own offline checker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from certkeeper import sandbox

UNITS = Path(__file__).parents[2] / "systemd"


def test_units_verify(tmp_path: Path) -> None:
    exe = shutil.which("certkeeper")
    assert exe, "the certkeeper console script must be on PATH (make test puts it there)"
    # systemd-analyze fails a unit whose ExecStart binary is missing on this machine;
    # point it at the installed script. The deb test checks /usr/bin/certkeeper itself.
    service = (UNITS / "certkeeper.service").read_text()
    assert "ExecStart=/usr/bin/certkeeper check --no-jitter" in service
    (tmp_path / "certkeeper.service").write_text(service.replace("/usr/bin/certkeeper", exe))
    shutil.copy(UNITS / "certkeeper.timer", tmp_path)
    proc = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(tmp_path / "certkeeper.service"),
            str(tmp_path / "certkeeper.timer"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_timer_schedule() -> None:
    """Twice a day, 12 hours apart, with jitter (ARI windows can be hours wide), in the
    timer and in the shipped cron file alike; systemd itself computes the timer's runs."""
    timer = (UNITS / "certkeeper.timer").read_text()
    assert re.search(r"^OnCalendar=\*-\*-\* 03,15:00:00$", timer, re.M)
    assert re.search(r"^RandomizedDelaySec=15min$", timer, re.M)
    assert re.search(r"^Persistent=true$", timer, re.M)
    proc = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=3", "*-*-* 03,15:00:00"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "TZ": "UTC"},
    )
    hours = re.findall(r"\d{4}-\d{2}-\d{2} (\d{2}):00:00", proc.stdout)
    assert len(hours) >= 3 and set(hours) == {"03", "15"}, proc.stdout
    cron = (UNITS.parent / "packaging/deb/debian/certkeeper.cron.d").read_text()
    entries = [line for line in cron.splitlines() if "certkeeper check" in line]
    assert entries and all(line.startswith("#0 3,15 * * * root ") for line in entries)


def test_service_can_write_what_the_job_writes() -> None:
    """Every default path, and any webroot under /var, /srv or /opt, by construction.

    tests/unit/test_sandbox.py checks the rules; tests/packaging/test_nspawn.py proves
    them under a booted systemd.
    """
    service = (UNITS / "certkeeper.service").read_text()
    unit = sandbox.parse(service)
    assert unit.protect_system == "full"
    for path in (
        "/etc/letsencrypt",
        "/var/lib/letsencrypt",
        "/var/log/letsencrypt",
        "/var/lib/certkeeper",
        "/etc/nginx/certs",
        "/run/lock",
        "/var/log/nginx",
        "/var/www/letsencrypt",
        "/srv/www/acme",
    ):
        assert sandbox.can_write(unit, path).writable, path
    assert not sandbox.can_write(unit, "/etc/nginx/nginx.conf").writable
    assert "Type=oneshot" in service


def test_every_read_write_path_exists_before_the_sandbox_is_built() -> None:
    """A ReadWritePaths= entry that is missing fails the start (226/NAMESPACE) or, with
    "-", stays read-only: the privileged ExecStartPre must make each one first."""
    service = (UNITS / "certkeeper.service").read_text()
    made = re.findall(r"^ExecStartPre=\+/bin/mkdir -p (.*)$", service, re.M)
    assert len(made) == 1
    for path in sandbox.parse(service).read_write:
        assert path in made[0].split(), path
