"""The metrics_file key: its values, and what `check` says when it cannot write it."""

from __future__ import annotations

from pathlib import Path

import yaml

from certkeeper.config import NODE_EXPORTER_TEXTFILE
from support.fleet import read_metrics
from support.run import certkeeper, write_config


def shown(cfg: Path) -> object:
    proc = certkeeper(cfg, "config", "show")
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["metrics_file"]


def test_absent_means_no_file_and_a_path_is_relative_to_the_config(tmp_path: Path) -> None:
    assert shown(write_config(tmp_path / "a")) is None
    assert shown(write_config(tmp_path / "b", metrics_file=None)) is None
    cfg = write_config(tmp_path / "c", metrics_file="metrics/certkeeper.prom")
    assert shown(cfg) == str(tmp_path / "c/metrics/certkeeper.prom")


def test_auto_is_node_exporters_folder_only_when_it_exists(tmp_path: Path) -> None:
    # The machine decides: with Debian's prometheus-node-exporter installed the folder
    # exists; the Debian-root test in tests/packaging/test_ansible.py sees the other side.
    expected = str(NODE_EXPORTER_TEXTFILE) if NODE_EXPORTER_TEXTFILE.parent.is_dir() else None
    assert shown(write_config(tmp_path, metrics_file="auto")) == expected


def test_a_bad_value_is_one_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, metrics_file=["/tmp/x.prom"])
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"{cfg}: metrics_file = ['/tmp/x.prom']: expected a file system path"
    )


def test_check_writes_it_and_warns_when_it_cannot(tmp_path: Path) -> None:
    target = tmp_path / "metrics" / "certkeeper.prom"
    cfg = write_config(tmp_path, metrics_file=str(target), notify={"to": "board@example.com"})
    missing = certkeeper(cfg, "check", "--no-jitter")
    # The check itself went fine; the fleet would see it go quiet, and stderr says why.
    assert missing.returncode == 0, missing.stderr
    assert missing.stderr.strip() == (
        f"WARNING: cannot write metrics_file {target}: No such file or directory"
    )
    assert "Traceback" not in missing.stderr

    target.parent.mkdir()
    written = certkeeper(cfg, "check", "--no-jitter")
    assert written.returncode == 0 and written.stdout == "" and written.stderr == ""
    m = read_metrics(target)
    assert m.value("certkeeper_check_success") == 1
    assert m.value("certkeeper_outbox_messages") == 0
    assert not m.find("certkeeper_cert_not_after_timestamp_seconds")
    # A dry run changes nothing, the metrics file included.
    before = target.read_bytes()
    assert certkeeper(cfg, "check", "--dry-run").returncode == 0
    assert target.read_bytes() == before
