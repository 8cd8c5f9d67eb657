"""Where the probe's trust verdict comes from: the operator's roots, read lazily.

Each case runs a fresh process, because OpenSSL reads SSL_CERT_FILE and SSL_CERT_DIR
when a context is built: the same as `certkeeper status` started from a shell.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from certkeeper.tlsctx import hashed_name, same_roots
from support.tls import SNIServer, hashed_ca_dir, leaf

_PROBE = (
    "import json, sys;"
    "from certkeeper.probe import Target, probe;"
    "from certkeeper.tlsctx import trusting_context;"
    "r = probe(Target('valid.example.com', '127.0.0.1', int(sys.argv[1])), 3);"
    "print(json.dumps([r.trusted, trusting_context().cert_store_stats()['x509']]))"
)


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[SNIServer]:
    cert = leaf(ca, "valid.example.com", days_left=60)
    srv = SNIServer({"valid.example.com": cert}, default=cert)
    srv.start()
    yield srv
    srv.stop()


def _probe(server: SNIServer, *, wrap: tuple[str, ...] = (), **env: str) -> tuple[bool | None, int]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    out = subprocess.run(
        [*wrap, sys.executable, "-c", _PROBE, str(server.port)],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    trusted, parsed = json.loads(out.stdout)
    return trusted, parsed


def _default_dir_is_hashed() -> bool:
    folder = ssl.get_default_verify_paths().openssl_capath
    return any(hashed_name(name) for name in os.listdir(folder)) if os.path.isdir(folder) else False


def test_a_root_added_in_a_hashed_directory_is_trusted(
    ca: trustme.CA, server: SNIServer, tmp_path: Path
) -> None:
    # How an operator adds a root: SSL_CERT_DIR, a folder of hashed names.
    assert _probe(server, SSL_CERT_DIR=str(hashed_ca_dir(tmp_path / "roots", [ca])))[0] is True
    # The same folder without that root: the chain is not trusted.
    other = hashed_ca_dir(tmp_path / "other", [trustme.CA()])
    assert _probe(server, SSL_CERT_DIR=str(other))[0] is False


def test_a_bundle_named_by_ssl_cert_file_is_what_is_trusted(
    ca: trustme.CA, server: SNIServer, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    ca.cert_pem.write_to_path(str(bundle))
    trusted, parsed = _probe(server, SSL_CERT_FILE=str(bundle))
    # Loaded whole, as OpenSSL reads it: the one root in the file.
    assert (trusted, parsed) == (True, 1)
    elsewhere = tmp_path / "elsewhere.pem"
    trustme.CA().cert_pem.write_to_path(str(elsewhere))
    assert _probe(server, SSL_CERT_FILE=str(elsewhere))[0] is False


def test_the_system_roots_are_not_parsed_up_front(server: SNIServer) -> None:
    # Debian's default folder holds the same roots as its bundle, under hashed names:
    # the probe reads only the issuer it needs instead of parsing ~140 roots (20-40 ms).
    assert _default_dir_is_hashed(), "this test needs Debian's ca-certificates"
    trusted, parsed = _probe(server)
    assert parsed == 0
    assert trusted is False  # a test CA is in no system store
    # SSL_CERT_FILE naming the default bundle itself is the same store, read lazily too.
    default_bundle = ssl.get_default_verify_paths().openssl_cafile
    assert _probe(server, SSL_CERT_FILE=default_bundle)[1] == 0


def test_a_root_appended_to_the_bundle_by_hand_is_trusted(
    ca: trustme.CA, server: SNIServer, tmp_path: Path
) -> None:
    # `cat corp.pem >> /etc/ssl/certs/ca-certificates.crt`, without update-ca-certificates:
    # the hashed folder no longer holds the bundle's roots, so the bundle is parsed, as
    # OpenSSL's defaults do. Shown in a private mount namespace: the host's bundle is not
    # touched.
    bundle = os.path.realpath(ssl.get_default_verify_paths().openssl_cafile)
    edited = tmp_path / "ca-certificates.crt"
    edited.write_bytes(Path(bundle).read_bytes() + ca.cert_pem.bytes())
    mount = ("unshare", "-m", "sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh")
    assert _probe(server, wrap=(*mount, str(edited), bundle)) == (True, 145)


def _roots(folder: Path, cas: list[trustme.CA], bundle_cas: list[trustme.CA]) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    hashed_ca_dir(folder, cas)
    bundle = folder.parent / "bundle.pem"
    bundle.write_bytes(b"".join(ca.cert_pem.bytes() for ca in bundle_cas))
    # As update-ca-certificates leaves them: the folder rehashed after the bundle.
    os.utime(bundle, ns=(1, 1))
    return bundle


def test_same_roots_as_update_ca_certificates_leaves_them(tmp_path: Path) -> None:
    cas = [trustme.CA(), trustme.CA()]
    bundle = _roots(tmp_path / "certs", cas, cas)
    assert same_roots(str(bundle), str(tmp_path / "certs")) is True
    # No bundle at all: the folder is all that OpenSSL's defaults would read.
    bundle.unlink()
    assert same_roots(str(bundle), str(tmp_path / "certs")) is True


def test_a_bundle_longer_or_newer_than_the_folder_is_not_the_same(tmp_path: Path) -> None:
    cas = [trustme.CA(), trustme.CA()]
    longer = _roots(tmp_path / "a" / "certs", cas, [*cas, trustme.CA()])
    assert same_roots(str(longer), str(tmp_path / "a" / "certs")) is False
    newer = _roots(tmp_path / "b" / "certs", cas, cas)
    os.utime(newer)  # edited in place after the last rehash
    assert same_roots(str(newer), str(tmp_path / "b" / "certs")) is False
    empty = _roots(tmp_path / "c" / "certs", [], [])
    assert same_roots(str(empty), str(tmp_path / "c" / "certs")) is False  # no hashed names
    assert same_roots(str(empty), str(tmp_path / "missing")) is False


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("4042bcee.0", True),
        ("4042bcee.12", True),
        ("4042BCEE.0", False),  # openssl rehash writes lower case
        ("4042bcee", False),
        ("4042bcee.", False),
        ("4042bce.0", False),
        ("ISRG_Root_X1.pem", False),
        ("ca-certificates.crt", False),
    ],
)
def test_hashed_names(name: str, hashed: bool) -> None:
    assert hashed_name(name) is hashed
