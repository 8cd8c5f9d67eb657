"""The shipped units pass systemd's own offline checker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

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
    service = (UNITS / "certkeeper.service").read_text()
    writable = " ".join(re.findall(r"^ReadWritePaths=(.*)$", service, re.M))
    for path in (
        "/etc/letsencrypt",
        "/var/lib/letsencrypt",
        "/var/log/letsencrypt",
        "/var/lib/certkeeper",
        "/etc/nginx/certs",
        "/run/lock",
    ):
        assert path in writable.split()
    assert "Type=oneshot" in service and "ProtectSystem=strict" in service
