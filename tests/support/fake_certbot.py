"""A certbot stand-in for the kill loop: it writes a lineage exactly where and how certbot does.

Real certbot against pebble takes seconds per renewal; hundreds of kills need a certbot
that takes milliseconds. This one understands `certonly ... -d NAME --cert-name X` and
`renew --cert-name X` with `--config-dir D`, mints a certificate from a CA it keeps in
D/fake-ca/, and updates archive/ and live/ the way certbot does: new numbered files
first, then each live symlink swapped by a rename. Run as a real process (its first
line names the venv's python), never imported by certkeeper.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _ca(config_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    folder = config_dir / "fake-ca"
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "ca.pem").exists():
        key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake certbot CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write(
        folder / "key.pem",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write(folder / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def main(argv: list[str]) -> int:
    if os.environ.get("FAKE_CERTBOT_FAIL"):
        print("Some challenges have failed.", file=sys.stderr)
        return 1
    command = argv[0]
    opts: dict[str, str] = {}
    domains: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-d", "--cert-name", "--config-dir") and i + 1 < len(argv):
            if arg == "-d":
                domains.append(argv[i + 1])
            else:
                opts[arg] = argv[i + 1]
            i += 2
            continue
        i += 1
    config_dir, name = Path(opts["--config-dir"]), opts["--cert-name"]
    live, archive = config_dir / "live" / name, config_dir / "archive" / name
    live.mkdir(parents=True, exist_ok=True)
    archive.mkdir(parents=True, exist_ok=True)
    if command == "renew":
        old = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
        san = old.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        domains = list(san.value.get_values_for_type(x509.DNSName))
        key = serialization.load_pem_private_key((live / "privkey.pem").read_bytes(), None)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ca, ca_key = _ca(config_dir)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now - timedelta(hours=1) + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), False)
        .sign(ca_key, hashes.SHA256())
    )
    n = 1 + max((int(p.stem[4:]) for p in archive.glob("cert[0-9]*.pem")), default=0)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    chain = ca.public_bytes(serialization.Encoding.PEM)
    files = {
        "cert": pem,
        "chain": chain,
        "fullchain": pem + chain,
        "privkey": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for kind, data in files.items():
        _write(archive / f"{kind}{n}.pem", data)
    for kind in files:
        tmp = live / f".{kind}.pem.tmp"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(os.path.relpath(archive / f"{kind}{n}.pem", live), tmp)
        os.replace(tmp, live / f"{kind}.pem")
    print(f"Successfully received certificate for {', '.join(domains)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
