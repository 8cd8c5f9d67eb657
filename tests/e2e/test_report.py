"""`certkeeper report` on what real `status --json` runs of the sandbox printed: one row
per state, stale hosts, malformed input, standard input and a thousand rows."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from support.fleet import configure
from support.host import SHOP, Host, dump
from support.peers import Nginx, Pebble, age_lineage, world_readable_dir
from support.run import certkeeper
from support.smtp import Catcher, SMTPServer

CRITICAL = ["EXPIRED", "MISMATCH", "NOT_COVERED", "UNREACHABLE", "MISSING", "MONITOR/EXPIRED"]
WARNING = ["DUE", "MONITOR/WARN"]
OK = ["OK", "MONITOR/OK"]


def report(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`certkeeper report` as the control node runs it: no config at all."""
    return subprocess.run(
        [sys.executable, "-m", "certkeeper", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin if stdin is not None else "",
        check=False,
    )


def status_as(host: Host, hostname: str, *args: str) -> str:
    configure(host, hostname=hostname)
    proc = host.run("status", "--json", *args)
    assert proc.returncode in (0, 1, 2), dump(proc)
    doc = json.loads(proc.stdout)
    assert doc["host"] == hostname
    assert datetime.now(UTC) - datetime.fromisoformat(doc["generated_at"]) < timedelta(minutes=2)
    return proc.stdout


def label(row: dict[str, object]) -> str:
    return f"{row['state']}/{row['monitor_state']}" if row["monitor_state"] else str(row["state"])


@pytest.fixture(scope="module")
def outputs(
    tmp_path_factory: pytest.TempPathFactory, pebble: Pebble, http_port: int
) -> Iterator[dict[str, Path]]:
    """One sandbox host brought into every state `status` knows, and what `status --json`
    said about it under four host names (app1: all states but UNREACHABLE; app2: nginx
    down; app3: all OK; app4: one DUE)."""
    root = tmp_path_factory.mktemp("fleet-host")
    webroot = world_readable_dir("ck-webroot-")
    nginx = Nginx(root / "nginx", webroot, root / "nginx-certs", http_port).start()
    smtp = SMTPServer(Catcher()).start()
    host = Host(root, pebble, nginx, smtp, trustme.CA())
    out = root / "out"
    out.mkdir()
    try:
        host.add("shop", *SHOP)
        for name in ("fine", "due", "old", "mon-ok", "mon-warn", "mon-exp"):
            host.add(name, f"{name}.example.test")
        # The usual first issuance: certificate first, server block later (not yet here).
        host.add("blog", "blog.example.test", site=False)
        issued = host.check()
        assert issued.returncode == 0, dump(issued)
        age_lineage(host.le, "due", days_left=5.5)
        age_lineage(host.le, "old", days_left=-1)
        age_lineage(host.le, "mon-warn", days_left=20)
        age_lineage(host.le, "mon-exp", days_left=-2)
        for name in ("mon-ok", "mon-warn", "mon-exp"):
            host.services[name]["certbot_enabled"] = False
        host.nginx.reload()
        # Renewed by certbot on its own, without a reload: nginx serves the old one.
        assert host.certbot_renew().returncode == 0
        host.add("new", "new.example.test", site=False)  # never issued
        host.settle()

        out_app1 = out / "app1.json"
        out_app1.write_text(status_as(host, "app1"))
        rows = json.loads(out_app1.read_text())["certificates"]
        assert sorted({label(r) for r in rows}) == sorted(
            set(CRITICAL + WARNING + OK) - {"UNREACHABLE"}
        ), rows
        (out / "app3.json").write_text(status_as(host, "app3", "--only", "fine"))
        (out / "app4.json").write_text(status_as(host, "app4", "--only", "due"))
        nginx.stop()
        (out / "app2.json").write_text(status_as(host, "app2", "--only", "fine"))
        assert [label(r) for r in json.loads((out / "app2.json").read_text())["certificates"]] == [
            "UNREACHABLE"
        ]
        yield {p.stem: p for p in out.glob("*.json")}
    finally:
        nginx.stop()
        smtp.stop()
        shutil.rmtree(webroot, ignore_errors=True)


def table_rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    header = lines[0]
    assert header.startswith("HOST  ")
    starts = [header.index(col) for col in ("HOST", "SERVICE", "CERT", "DOMAIN", "STATE", "DAYS")]
    body = lines[1 : lines.index("")]
    return [[line[a:b].strip() for a, b in itertools.pairwise(starts)] for line in body]


def test_one_row_per_state_worst_first_and_the_worst_decides(outputs: dict[str, Path]) -> None:
    proc = report(str(outputs["app1"]), str(outputs["app2"]), str(outputs["app3"]))
    assert proc.returncode == 2, dump(proc)
    assert proc.stderr == ""
    rows = table_rows(proc.stdout)
    states = [r[4] for r in rows]
    every = set(CRITICAL + WARNING + OK)
    assert every <= set(states), states
    ranks = [0 if s in CRITICAL else 1 if s in WARNING else 2 for s in states]
    assert ranks == sorted(ranks), states
    assert ["app2", "fine", "fine", "fine.example.test", "UNREACHABLE"] in [r[:5] for r in rows]
    assert ["app1", "new", "new", "new.example.test", "MISSING"] in [r[:5] for r in rows]
    assert {r[0] for r in rows} == {"app1", "app2", "app3"}
    assert "3 host(s), 12 row(s): 7 critical, 0 stale/unknown, 2 warning, 3 OK" in proc.stdout


@pytest.mark.parametrize(("names", "code"), [(["app3"], 0), (["app3", "app4"], 1), (["app2"], 2)])
def test_exit_code_is_the_worst_rows(outputs: dict[str, Path], names: list[str], code: int) -> None:
    proc = report(*(str(outputs[n]) for n in names))
    assert proc.returncode == code, dump(proc)


def test_json_output_and_standard_input_as_json_lines(outputs: dict[str, Path]) -> None:
    lines = "".join(outputs[n].read_text() for n in ("app1", "app2"))
    assert len(lines.splitlines()) == 2
    proc = report("-", "--json", stdin=lines)
    assert proc.returncode == 2, dump(proc)
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 2 and doc["errors"] == []
    assert [h["host"] for h in doc["hosts"]] == ["app1", "app2"]
    assert [h["source"] for h in doc["hosts"]] == ["<stdin>: line 1", "<stdin>: line 2"]
    assert len(doc["certificates"]) == 11
    first = doc["certificates"][0]
    assert first["state"] in CRITICAL
    shop = [c for c in doc["certificates"] if c["cert_name"] == "shop"]
    assert {c["state"] for c in shop} == {"MISMATCH"}
    assert all(c["served_not_after"] < c["disk_not_after"] for c in shop)
    # The same, pretty-printed by jq or Python, is one host too.
    pretty = json.dumps(json.loads(outputs["app3"].read_text()), indent=2)
    again = report("-", stdin=pretty)
    assert again.returncode == 0, dump(again)


def test_a_host_older_than_max_age_is_stale(outputs: dict[str, Path], tmp_path: Path) -> None:
    doc = json.loads(outputs["app3"].read_text())
    doc["generated_at"] = (datetime.now(UTC) - timedelta(hours=37)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = tmp_path / "app3-old.json"
    old.write_text(json.dumps(doc))
    proc = report(str(old))
    assert proc.returncode == 3, dump(proc)
    [row] = table_rows(proc.stdout)
    assert row[:5] == ["app3", "fine", "fine", "fine.example.test", "STALE"]
    assert "1d 13h old; it said OK" in proc.stdout
    assert "STALE = no status newer than 1d 12h (--max-age): app3" in proc.stdout
    # An OK host and a stale one: the stale one decides; a critical one outranks it.
    assert report(str(old), str(outputs["app3"]).replace("app3", "app4")).returncode == 3
    assert report(str(old), str(outputs["app2"])).returncode == 2
    # --max-age applies to real, just-written output too.
    time.sleep(1.1)
    fresh = report("--max-age", "1s", str(outputs["app3"]))
    assert fresh.returncode == 3 and "STALE" in fresh.stdout, dump(fresh)
    assert report("--max-age", "2d", str(old)).returncode == 0
    bad = report("--max-age", "soon", str(old))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "expected an age such as 36h" in bad.stderr


def test_malformed_input_is_one_line_naming_the_file(
    outputs: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "app5.json"
    broken.write_text('{"host": "app5", "certificates": [')
    proc = report(str(outputs["app3"]), str(broken))
    assert proc.returncode == 3, dump(proc)
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"certkeeper report: {broken}: not valid JSON: ")
    # The lost input is one UNKNOWN row naming it; the hosts that could be read are
    # still reported.
    bad_row, good_row = table_rows(proc.stdout)
    assert bad_row[:5] == [str(broken), "-", "-", "-", "BAD_INPUT"]
    assert good_row[:5] == ["app3", "fine", "fine", "fine.example.test", "OK"]

    cases = {
        "empty.json": ("", "empty: expected the output of `certkeeper status --json`"),
        "list.json": ("[1, 2]", "a JSON list, expected the output of `certkeeper status --json`"),
        "old.json": (
            '{"certificates": [], "outbox_waiting": 0}',
            'no "host": expected status --json from a certkeeper that names its host',
        ),
        # A wrong type is named as wrong, never shown as "True notice(s) waiting".
        "true.json": (
            json.dumps(
                {
                    "host": "app9",
                    "generated_at": datetime.now(UTC).isoformat(),
                    "certificates": [],
                    "outbox_waiting": True,
                }
            ),
            '"outbox_waiting" = True: expected a count of notices',
        ),
        "lines.json": (
            outputs["app3"].read_text() + "{oops\n",
            "line 2: not valid JSON: Expecting property name enclosed in double quotes",
        ),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        bad = report(str(path))
        assert bad.returncode == 3, dump(bad)
        assert "Traceback" not in bad.stderr
        [line] = bad.stderr.splitlines()
        assert line.startswith(f"certkeeper report: {path}: {message}"), line
    missing = report(str(tmp_path / "nope.json"))
    assert missing.returncode == 3
    assert missing.stderr.strip() == (
        f"certkeeper report: {tmp_path / 'nope.json'}: cannot read: No such file or directory"
    )


def test_a_thousand_rows(outputs: dict[str, Path], tmp_path: Path) -> None:
    """A hundred hosts of ten real rows each, as a fleet of 25 hosts will not exceed."""
    doc = json.loads(outputs["app1"].read_text())
    assert len(doc["certificates"]) == 10
    lines = []
    for i in range(100):
        doc["host"] = f"host{i:03d}"
        doc["certificates"] = doc["certificates"][:10]
        lines.append(json.dumps(doc))
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    proc = report(str(fleet))
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, dump(proc)
    rows = table_rows(proc.stdout)
    assert len(rows) == 1000
    assert len({(r[0], r[3]) for r in rows}) == 1000
    states = [r[4] for r in rows]
    ranks = [0 if s in CRITICAL else 1 if s in WARNING else 2 for s in states]
    assert ranks == sorted(ranks)
    assert "100 host(s), 1000 row(s)" in proc.stdout
    assert elapsed < 10, elapsed
    as_json = report("--json", str(fleet))
    assert len(json.loads(as_json.stdout)["certificates"]) == 1000


def test_report_needs_no_config_and_says_how_to_use_it() -> None:
    proc = certkeeper(Path("/nonexistent/config.yaml"), "report", "--help")
    assert proc.returncode == 0
    assert "fleet-status.yml" in proc.stdout
    nothing = report()
    assert nothing.returncode == 2 and "Missing argument" in nothing.stderr
