"""`make demo` works by itself, finishes in under a minute and leaves nothing running."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).parents[2]


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


def test_demo_runs_end_to_end_and_cleans_up() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(TOP / "demo" / "run_demo.py")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert elapsed < 60
    out = proc.stdout
    assert "api: issued; nginx now serves it on api.demo.test" in out
    assert "shop: renewed; nginx now serves it on shop.demo.test, www.shop.demo.test" in out
    assert "Subject: [SUCCESS] demo-host \u2013 Cert renewed for shop.demo.test" in out
    assert "Nginx has been reloaded with the new certificate." in out
    final = out.split("== 5. status afterwards", 1)[1]
    assert "# exit 0" in final and "DUE" not in final
    sandbox = re.search(r"^sandbox: (\S+)$", out, re.M)
    assert sandbox is not None
    assert not Path(sandbox.group(1)).exists()
    assert running_with(sandbox.group(1)) == []
