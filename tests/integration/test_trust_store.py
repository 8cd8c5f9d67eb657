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

from certkeeper.tlsctx import _hashed_name
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


def _probe(server: SNIServer, **env: str) -> tuple[bool | None, int]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(server.port)],
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
    return (
        any(_hashed_name(name) for name in os.listdir(folder)) if os.path.isdir(folder) else False
    )


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
    assert _hashed_name(name) is hashed
