"""`certkeeper report` on files a broken or hostile host could hand the control node: each
bad file is one BAD_INPUT row and one stderr line naming it, the other hosts are still
reported, nothing prints a traceback, and memory follows what is kept."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certkeeper", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def status(host: str, state: str, at: datetime) -> dict[str, object]:
    row = {
        "service": "shop",
        "cert_name": "shop",
        "domain": f"{host}.example.test",
        "state": state,
        "monitor_state": None,
        "days_left": -1 if state == "EXPIRED" else 60,
        "reason": "",
    }
    return {"host": host, "generated_at": at.strftime(STAMP), "certificates": [row]}


def write(path: Path, doc: object) -> str:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def rows(stdout: str) -> list[list[str]]:
    body = stdout.split("\n\n")[0].splitlines()[1:]
    return [line.split()[:5] for line in body]


def test_each_bad_file_is_one_row_naming_it_and_the_good_host_is_reported(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    good = write(tmp_path / "good.json", status("app1", "EXPIRED", now))
    bad = {
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "digits.json": '{"host": "x", "certificates": [], "days": ' + "9" * 5000 + "}",
        "year1.json": dict(status("y1", "OK", now), generated_at="0001-01-01T00:10:00+01:00"),
        "year9999.json": dict(status("y9", "OK", now), generated_at="9999-12-31T20:00:00-05:00"),
        "truthy.json": dict(status("t", "OK", now), outbox_waiting=True),
    }
    paths = [write(tmp_path / name, doc) for name, doc in bad.items()]
    proc = report(good, *paths)
    assert proc.returncode == 2, proc.stderr  # the EXPIRED row outranks the unknowns
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = proc.stderr.splitlines()
    assert [line.split(": ")[1] for line in errors] == paths
    assert errors[0].endswith("deep.json: not valid JSON: nested too deeply")
    assert errors[1].endswith("not valid JSON: a number of more than 4300 digits")
    assert "(years 2000 to 2199)" in errors[2] and "(years 2000 to 2199)" in errors[3]
    assert errors[4].endswith('"outbox_waiting" = True: expected a count of notices')
    table = rows(proc.stdout)
    assert table[0] == ["app1", "shop", "shop", "app1.example.test", "EXPIRED"]
    assert sorted(r[0] for r in table[1:]) == sorted(paths)
    assert {r[4] for r in table[1:]} == {"BAD_INPUT"}
    assert all(len(line) <= 400 for line in proc.stdout.splitlines())


def test_an_age_past_the_calendar_is_a_usage_error(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", status("app1", "OK", datetime.now(UTC)))
    proc = report("--max-age", "99999999999999999999d", good)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "at most 3650d" in proc.stderr


def test_a_status_from_the_future_never_hides_the_current_one(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    current = write(tmp_path / "now.json", status("app1", "EXPIRED", now))
    ahead = write(tmp_path / "ahead.json", status("app1", "OK", now + timedelta(days=30)))
    proc = report("--json", ahead, current)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 2, proc.stderr
    states = [(r["host"], r["state"]) for r in doc["certificates"]]
    assert states == [("app1", "EXPIRED"), ("app1", "FROM_THE_FUTURE")]
    assert doc["certificates"][1]["note"].startswith(f"{ahead}: status from ")
    assert "ahead of this clock: ignored" in doc["certificates"][1]["note"]
    # Alone, it is UNKNOWN (exit 3), not the host's answer.
    alone = report(ahead)
    assert alone.returncode == 3
    assert rows(alone.stdout) == [["app1", "-", "-", "-", "FROM_THE_FUTURE"]]
    # A minute of clock skew is no future.
    skewed = write(tmp_path / "skew.json", status("app1", "OK", now + timedelta(minutes=1)))
    assert report(skewed).returncode == 0


def test_memory_follows_what_is_kept_not_what_is_read(tmp_path: Path) -> None:
    """60 MB of `{}` rows once peaked at 1.5 GB: a file over 16 MiB is refused unread, one
    under it with more than 500,000 JSON values is refused before it is parsed."""
    big = tmp_path / "big.json"
    many = tmp_path / "many.json"
    for path, count in ((big, 20_000_000), (many, 5_000_000)):
        with path.open("w") as out:
            out.write('{"host": "h", "generated_at": "2026-11-30T03:00:00Z", "certificates": [')
            out.write(",".join(["{}"] * count))
            out.write("]}")
    files = (str(big), str(many))
    probe = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "print(p.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "certkeeper", "report", *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    first, *errors = proc.stdout.splitlines()
    code, peak_kib = (int(x) for x in first.split())
    assert code == 3
    assert errors[0] == (
        f"certkeeper report: {big}: is {big.stat().st_size} bytes: expected at most 16777216 bytes"
    )
    assert errors[1].startswith(f"certkeeper report: {many}: more than 500000 JSON values: ")
    assert peak_kib < 150 * 1024, f"peak {peak_kib} KiB"
