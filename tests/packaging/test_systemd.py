"""The shipped units pass systemd's own offline checker."""

from __future__ import annotations

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
    timer = (UNITS / "certkeeper.timer").read_text()
    assert re.search(r"^OnCalendar=\*-\*-\* 03:00:00$", timer, re.M)
    assert re.search(r"^RandomizedDelaySec=15min$", timer, re.M)
    assert re.search(r"^Persistent=true$", timer, re.M)


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
