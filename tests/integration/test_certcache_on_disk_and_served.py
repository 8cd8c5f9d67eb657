"""`status` on a healthy host parses no certificate: the disk ones are remembered in
state_dir/certinfo-cache.json, and a served certificate byte-identical to the disk one is
that certificate. The cache must never change an answer, and never break a status."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.run import certkeeper, service, write_config
from support.tls import SNIServer, leaf, write_lineage

CACHE = "certinfo-cache.json"


@pytest.fixture
def host(tmp_path: Path, ca: trustme.CA) -> Iterator[tuple[Path, Path, trustme.CA]]:
    """Two lineages: `ok` served as on disk, `stale` renewed on disk but not reloaded."""
    le = tmp_path / "letsencrypt"
    ok = leaf(ca, "ok.example.com", "www.ok.example.com", days_left=60)
    old = leaf(ca, "stale.example.com", days_left=20)
    write_lineage(le, "ok", ok, ca)
    write_lineage(le, "stale", leaf(ca, "stale.example.com", days_left=89), ca)
    served = {"ok.example.com": ok, "www.ok.example.com": ok, "stale.example.com": old}
    server = SNIServer(served, default=ok).start()
    cfg = write_config(
        tmp_path,
        {
            "ok": service("ok", "ok.example.com", "www.ok.example.com"),
            "stale": service("stale", "stale.example.com"),
        },
        probe={"port": server.port},
    )
    (tmp_path / "state").mkdir(mode=0o700)
    yield cfg, tmp_path / "state", ca
    server.stop()


def rows(cfg: Path, env: dict[str, str] | None = None) -> tuple[list[dict[str, object]], str]:
    proc = certkeeper(cfg, "status", "--json", env=env)
    assert proc.returncode == 2, proc.stderr  # the stale row is a MISMATCH
    return json.loads(proc.stdout)["certificates"], proc.stderr


def imported_cryptography(cfg: Path, code: int = 2) -> bool:
    """Whether `status` imported the certificate parser (-X importtime says, on stderr)."""
    proc = certkeeper(cfg, "status", "--json", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == code, proc.stderr
    return "cryptography" in proc.stderr


def test_second_status_answers_the_same_without_parsing(host: tuple[Path, Path, object]) -> None:
    cfg, state, _ = host
    first, _ = rows(cfg)
    cache = state / CACHE
    assert cache.is_file()
    assert cache.stat().st_mode & 0o777 == 0o600
    second, _ = rows(cfg)
    assert second == first
    states = {r["domain"]: r["state"] for r in second}
    assert states == {
        "ok.example.com": "OK",
        "www.ok.example.com": "OK",
        "stale.example.com": "MISMATCH",
    }
    # Only the MISMATCH row's served certificate needs the parser.
    assert imported_cryptography(cfg)


def test_healthy_host_imports_no_parser(
    tmp_path: Path, host: tuple[Path, Path, trustme.CA]
) -> None:
    cfg, _, _ = host
    ok_only = write_config(
        tmp_path / "ok-only",
        {"ok": service("ok", "ok.example.com", "www.ok.example.com")},
        probe={"port": json_port(cfg)},
        certbot={"config_dir": str(tmp_path / "letsencrypt")},
    )
    (tmp_path / "ok-only" / "state").mkdir(mode=0o700)
    proc = certkeeper(ok_only, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    assert not imported_cryptography(ok_only, code=0)


def json_port(cfg: Path) -> int:
    import yaml

    port = yaml.safe_load(cfg.read_text())["probe"]["port"]
    assert isinstance(port, int)
    return port


def test_a_renewed_file_is_read_afresh(tmp_path: Path, host: tuple[Path, Path, trustme.CA]) -> None:
    cfg, _, ca = host
    rows(cfg)
    newer = leaf(ca, "ok.example.com", "www.ok.example.com", days_left=88)
    write_lineage(tmp_path / "letsencrypt", "ok", newer, ca)
    after, _ = rows(cfg)
    disk = {r["domain"]: r["disk"] for r in after}
    assert disk["ok.example.com"]["serial"] == format(serial_of(newer), "x")  # type: ignore[index]
    assert {r["domain"]: r["state"] for r in after}["ok.example.com"] == "MISMATCH"


def serial_of(cert: trustme.LeafCert) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).serial_number


@pytest.mark.parametrize(
    "damage",
    ["garbage", "lying_types", "symlink", "group_writable", "directory", "huge"],
)
def test_a_damaged_cache_is_ignored_and_status_stays_right(
    tmp_path: Path, host: tuple[Path, Path, object], damage: str
) -> None:
    cfg, state, _ = host
    truth, _ = rows(cfg)
    cache = state / CACHE
    doc = json.loads(cache.read_text())
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("untouched")
    cache.unlink()
    if damage == "garbage":
        cache.write_bytes(b"\x00{not json")
    elif damage == "lying_types":
        for entry in doc["certificates"].values():
            entry["not_after"] = "tomorrow"
            entry["serial"] = "1"
            entry["sans"] = [7]
        cache.write_text(json.dumps(doc))
    elif damage == "symlink":
        cache.symlink_to(elsewhere)
    elif damage == "group_writable":
        # Whatever its content, a file others could have written is not believed.
        for entry in doc["certificates"].values():
            entry["not_after"] = "2999-01-01T00:00:00+00:00"
        cache.write_text(json.dumps(doc))
        os.chmod(cache, 0o664)
    elif damage == "directory":
        cache.mkdir()
    elif damage == "huge":
        cache.write_bytes(b" " * (5 * 1024 * 1024))
    if damage not in ("directory", "symlink"):
        os.chmod(cache, 0o664 if damage == "group_writable" else 0o600)
    after, stderr = rows(cfg)
    assert after == truth
    assert "Traceback" not in stderr
    assert elsewhere.read_text() == "untouched"


def test_no_state_dir_no_cache_and_status_works(
    tmp_path: Path, host: tuple[Path, Path, object]
) -> None:
    cfg, state, _ = host
    state.rmdir()
    first, _ = rows(cfg)
    assert not state.exists()  # status creates nothing
    assert {r["domain"]: r["state"] for r in first}["ok.example.com"] == "OK"
