"""What on-call reads at 3 a.m.: doctor and status on a real terminal (`script -qc`), as a
user without root, and on a stream that cannot encode our marks.

Real pebble, certbot, nginx; the terminal is a real pty from util-linux `script`; the
unprivileged user is `nobody`, switched to with `setpriv` on a real subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.host import SHOP, Host, dump, issue, world
from support.peers import Pebble, world_readable_dir
from support.run import certkeeper

CRON_LINE = "0 3,15 * * * root /usr/bin/certkeeper check\n"
WIDTH = 120
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def fake_root(host: Host) -> Path:
    """A host whose job runs from cron: the package's cron file, no systemd unit."""
    root = host.root / "sysroot"
    (root / "etc" / "cron.d").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "cron.d" / "certkeeper").write_text(CRON_LINE)
    return root


def resolve(domains: tuple[str, ...] = SHOP) -> list[str]:
    return [arg for d in domains for arg in ("--resolve", f"{d}:127.0.0.1")]


def on_terminal(host: Host, *args: str, **env: str) -> tuple[int, list[str]]:
    """certkeeper on a real pty (util-linux script): what a person sees, CRs dropped."""
    argv = [sys.executable, "-m", "certkeeper", "--config", str(host.config), *args]
    inherited = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full = {**inherited, **host.env, "TERM": "xterm", **env}
    proc = subprocess.run(
        ["script", "-qec", shlex.join(argv), "/dev/null"],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    print(proc.stdout)  # the before/after in a report: pytest -s shows it
    return proc.returncode, proc.stdout.replace("\r", "").splitlines()


def broken_challenge_path(host: Host) -> None:
    conf = host.nginx.conf.read_text()
    cut = re.sub(r"    location /\.well-known/acme-challenge/ \{.*?\}\n", "", conf, flags=re.S)
    assert cut != conf
    host.nginx.conf.write_text(cut)
    host.nginx.reload()


def test_doctor_says_the_verdict_first_then_the_failure_and_its_fix_in_120_columns(
    host: Host,
) -> None:
    issue(host)
    assert host.run("install-hook").returncode == 0
    broken_challenge_path(host)
    root = str(fake_root(host))
    code, lines = on_terminal(host, "doctor", *resolve(), CERTKEEPER_SYSTEMD_ROOT=root)
    assert code == 1, lines
    verdict = re.fullmatch(r"1 of (\d+) checks fail: HTTP-01 path", lines[0])
    assert verdict, lines
    assert lines[1].startswith("\u2717 HTTP-01 path [shop]: ")
    fixes = [i for i, line in enumerate(lines) if line.startswith("    fix: ")]
    assert fixes and fixes[0] > 1
    passed = [i for i, line in enumerate(lines) if line.startswith("\u2713 ")]
    assert len(passed) == int(verdict.group(1)) - 1 and min(passed) > fixes[0]
    assert max(len(line) for line in lines) <= WIDTH, max(lines, key=len)
    # certbot's log shows only under a failed check that needs it: here none does.
    assert not any("letsencrypt.log" in line for line in lines)
    # --json keeps every finding whole.
    doc = json.loads(
        host.run_env("doctor", "--json", *resolve(), CERTKEEPER_SYSTEMD_ROOT=root).stdout
    )
    assert doc["verdict"] == lines[0]


def test_doctor_on_a_stream_that_cannot_encode_its_marks_says_them_in_ascii(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("probe:\n  http_port: eighty\n")
    for encoding in ("latin-1", "ascii"):
        proc = certkeeper(
            bad,
            "doctor",
            env={"PYTHONIOENCODING": encoding, "CERTKEEPER_SYSTEMD_ROOT": os.fspath(tmp_path)},
        )
        assert proc.returncode == 2, dump(proc)  # a config error stops doctor before any check
        assert "Traceback" not in proc.stderr and "UnicodeEncodeError" not in proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "1 of 1 checks fail: Config"
        assert lines[1].startswith("FAIL Config: "), lines


# ------------------------------------------------------------ without root


@pytest.fixture
def open_host(pebble: Pebble, http_port: int) -> Iterator[Host]:
    """A host under a folder `nobody` can walk to (pytest's tmp is root's 0700), with
    certbot's own 0700 live/ and archive/ inside, as on a real host."""
    root = world_readable_dir("ck-oncall-")
    try:
        with world(root, pebble, http_port) as one:
            yield one
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_nobody(host: Host, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "certkeeper", "--config", str(host.config), *args]
    full = {**os.environ, **host.env, **env}
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
        cwd="/",
    )


def test_doctor_without_root_says_needs_root_and_never_a_fix_for_what_it_did_not_see(
    open_host: Host,
) -> None:
    host = open_host
    # The config names only files a user may read: what it cannot see is certbot's.
    bundle = host.root / "pebble-ca.pem"
    shutil.copyfile(host.pebble.ca_bundle, bundle)
    host.extra_config = {"ari": {"ca_file": str(bundle)}}
    issue(host)
    assert host.run("install-hook").returncode == 0
    host.config.chmod(0o644)
    bundle.chmod(0o644)
    root = str(fake_root(host))
    proc = as_nobody(host, "doctor", *resolve(), CERTKEEPER_SYSTEMD_ROOT=root)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 1, dump(proc)  # never 0 when a check could not run
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert re.match(r"^\d+ of \d+ checks could not run \(needs root\): ", lines[0]), lines
    # The verdict may wrap: its continuation lines are indented.
    first_check = next(i for i, x in enumerate(lines) if x.startswith(("?", "\u2713", "\u2717")))
    verdict = " ".join(x.strip() for x in lines[:first_check])
    assert "The symlinks" in verdict and "certbot knows the lineage" in verdict, verdict
    assert "    needs root: sudo certkeeper doctor" in lines
    for wrong in ("is not a symlink", "restore them from the archive", "report it", "fix:"):
        assert wrong not in proc.stdout, proc.stdout
    assert max(len(line) for line in lines) <= WIDTH

    doc = json.loads(
        as_nobody(host, "doctor", "--json", *resolve(), CERTKEEPER_SYSTEMD_ROOT=root).stdout
    )
    unseen = [c for c in doc["checks"] if c["could_not_run"]]
    assert {c["check"] for c in unseen} >= {"lineage", "symlinks", "served"}
    assert all(c["fix"] == "needs root: sudo certkeeper doctor" for c in unseen)
    assert not [c for c in doc["checks"] if not c["ok"] and not c["could_not_run"]]


def test_doctor_without_root_on_a_config_only_root_reads(open_host: Host) -> None:
    host = open_host
    host.config.chmod(0o600)
    proc = as_nobody(host, "doctor")
    assert proc.returncode == 1, dump(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "1 of 1 checks could not run (needs root): Config", lines
    assert "    needs root: sudo certkeeper doctor" in lines


# ------------------------------------------------------------ status


def status_rows(lines: list[str]) -> list[list[str]]:
    return [ANSI.sub("", line).split() for line in lines[1:] if line and "example.test" in line]


def test_status_worst_first_120_columns_no_borrowed_days_and_colour_only_on_a_terminal(
    host: Host,
) -> None:
    issue(host)
    # Configured, served by nginx's default placeholder, never issued: MISSING.
    host.add("zeta", "zeta.example.test")
    code, lines = on_terminal(host, "status")
    assert code == 2, lines
    rows = status_rows(lines)
    assert [r[3] for r in rows] == ["MISSING", "OK", "OK"], lines
    assert rows[0][:5] == ["zeta", "zeta", "zeta.example.test", "MISSING", "-"]
    assert max(len(ANSI.sub("", line)) for line in lines) <= WIDTH
    assert "\x1b[31m" in "\n".join(lines)  # a terminal gets colour
    for env in ({"NO_COLOR": ""}, {"NO_COLOR": "1"}, {"TERM": "dumb"}):
        _, plain = on_terminal(host, "status", **env)
        assert "\x1b[" not in "\n".join(plain), env
    piped = host.run("status")
    assert "\x1b[" not in piped.stdout
    wide = host.run("status", "--wide")
    assert status_rows(wide.stdout.splitlines())[0][3] == "MISSING"
