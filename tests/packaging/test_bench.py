"""`make bench --quick` runs end to end. Timings are not asserted: machines are noisy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).parents[2]


def test_quick_benchmark_runs_and_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, str(TOP / "benchmarks" / "bench.py"), "--quick", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = out.read_text()
    assert "CPUs" in doc and "(quick mode)" in doc
    for row in (
        "1. status --json, N=100",
        "2. status, 100 names, 1 blackholed",
        "3. certkeeper --version",
        "4. no-op check --no-jitter, 10 services",
        "5. peak RSS",
        "6. probes/s",
        "1. status --json, N=100 (RSA-2048)",
        "7. status --json, N=10, 50 ms RTT",
        "8. WAN growth, N=100",
        "9. on-call: status, 10 names",
        "10. probe.concurrency 128",
    ):
        assert row in doc
