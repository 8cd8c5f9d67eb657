"""`make demo` works by itself, teaches the cards on-call must know, and leaves nothing running."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).parents[2]
DASH = "\u2013"


def running_with(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def section(out: str, title: str) -> str:
    """The demo's output from the banner starting with `title` to the next banner."""
    after = out.split(f"\n== {title}", 1)[1]
    return after.split("\n== ", 1)[0]


def test_demo_runs_end_to_end_and_cleans_up() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(TOP / "demo" / "run_demo.py")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # About 25 s on an idle 2-core machine; the margin is for a machine busy with other suites.
    assert elapsed < 90
    out = proc.stdout

    # 1. Issued, and trusted: the demo trusts pebble's root as production trusts Let's Encrypt's.
    first = section(out, "1. ")
    assert "api: issued; nginx now serves it on api.demo.test" in first
    assert f"Subject: [SUCCESS] demo-host {DASH} Cert issued for api.demo.test" in first
    assert f"Subject: [SUCCESS] demo-host {DASH} Cert issued for shop.demo.test" in first
    assert "untrusted" not in out
    for domain in ("api.demo.test", "shop.demo.test", "www.shop.demo.test"):
        # An OK row whose last column (the note) is empty: the issuer ends the line.
        row = rf"^  \w+ +\w+ +{re.escape(domain)} +OK +\d+ .* Pebble Intermediate CA \w+$"
        assert re.search(row, first, re.M), first

    # 2. Due, renewed, and the SUCCESS card the board received. The aged certificate still
    # names pebble's CA as its issuer, as the one a real renewal replaces would.
    second = section(out, "2. ")
    assert "trustme" not in second
    # The ISSUER cell gives way to fit 120 columns: its start is enough.
    assert re.search(r"shop\.demo\.test +DUE .* Pebble In", second), second
    assert "shop: renewed; nginx now serves it on shop.demo.test, www.shop.demo.test" in second
    assert f"Subject: [SUCCESS] demo-host {DASH} Cert renewed for shop.demo.test" in second
    assert "Nginx has been reloaded with the new certificate." in second

    # 3. Renewed but not reloaded: MISMATCH, repaired by check.
    third = section(out, "3. ")
    assert re.search(r"api\.demo\.test +MISMATCH", third), third
    # The expiry columns read alike to the minute: the serials tell the two apart.
    serials = re.search(r"nginx serves serial (\w+), the disk holds serial (\w+)", third)
    assert serials and serials.group(1) != serials.group(2), third
    assert "api: renewed; nginx now serves it" in third
    assert f"Subject: [SUCCESS] demo-host {DASH} Cert renewed for api.demo.test" in third
    assert "renewed by certbot outside certkeeper" in third

    # 4. The challenge location gone: certbot fails, the ERROR card names the step.
    fourth = section(out, "4. ")
    assert "$ certkeeper check --no-jitter    # exit 1" in fourth
    assert f"Subject: [ERROR] demo-host {DASH} Cert renewal FAILED for api.demo.test" in fourth
    assert "Failed step: certbot" in fourth
    # ... and doctor, run as the card says, finds the broken challenge path.
    assert "$ certkeeper doctor api --resolve api.demo.test:127.0.0.1    # exit 1" in fourth
    doctor_out = fourth.split("$ certkeeper doctor api", 1)[1]
    assert re.search(r"HTTP-01 path \[api\].*?404", doctor_out, re.S), doctor_out  # it wraps

    # 5. SMTP down: the notice waits in the outbox, then flush delivers it.
    fifth = section(out, "5. ")
    outbox = re.search(
        rf"^  api\.success\.\d{{8}}T\d{{6}}Z\.[0-9a-f]+  \[SUCCESS\] demo-host {DASH} Cert renewed for "
        r"api\.demo\.test$",
        fifth,
        re.M,
    )
    assert outbox, fifth
    assert "delivered waiting notice api.success." in fifth
    assert f"Subject: [SUCCESS] demo-host {DASH} Cert renewed for api.demo.test" in fifth

    final = section(out, "6. status afterwards")
    assert "# exit 0" in final and "DUE" not in final and "MISMATCH" not in final

    # Nothing is left that points at the removed sandbox; the way to explore is named.
    assert "make demo KEEP=1" in out
    assert not (TOP / "demo-run").exists()
    sandbox = re.search(r"^sandbox: (\S+)$", out, re.M)
    assert sandbox is not None
    assert not Path(sandbox.group(1)).exists()
    assert running_with(sandbox.group(1)) == []


def test_a_kept_demo_can_be_explored_and_stopped() -> None:
    demo = [sys.executable, str(TOP / "demo" / "run_demo.py")]
    proc = subprocess.run(
        [*demo, "--keep"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    sandbox = re.search(r"^sandbox: (\S+)$", proc.stdout, re.M)
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        assert "demo-run/certkeeper status" in proc.stdout
        assert sandbox and Path(sandbox.group(1)).is_dir()
        # The launcher has returned; the sandbox answers the commands it printed.
        explore = TOP / "demo-run" / "certkeeper"
        status = subprocess.run(
            [str(explore), "status"], capture_output=True, text=True, timeout=60, check=False
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert re.search(r"api\.demo\.test +OK", status.stdout), status.stdout
    finally:
        stop = subprocess.run(
            [*demo, "--stop"], capture_output=True, text=True, timeout=120, check=False
        )
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "stopped" in stop.stdout
    assert sandbox is not None
    assert not Path(sandbox.group(1)).exists()
    assert running_with(sandbox.group(1)) == []
    assert not (TOP / "demo-run").exists()
