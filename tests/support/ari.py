"""A small ACME Renewal Information server on loopback (Debian's pebble 2.4 has none).

It serves an ACME directory that offers `renewalInfo`, and answers each
certificate ID with the window the test chose and a Retry-After header. Every
request path is recorded, so a test can see which ID certkeeper asked for and
how often.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme
from cryptography import x509


@dataclass
class Answer:
    start: datetime | None = None
    end: datetime | None = None
    retry_after: str | None = "3600"
    status: int = 200
    raw: bytes | None = None  # a hostile body instead of the window


class AriServer:
    def __init__(self, folder: Path, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.ca = trustme.CA()
        # The Host header of every request, in order.
        self.hosts: list[str | None] = []
        self.ca_file = folder / "ari-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.answers: dict[str, Answer] = {}
        self.requests: list[str] = []
        self.offer_renewal_info = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.hosts.append(self.headers.get("Host"))
                if self.path == "/dir":
                    doc = {"newNonce": f"{server.base}/nonce", "newOrder": f"{server.base}/order"}
                    if server.offer_renewal_info:
                        doc["renewalInfo"] = f"{server.base}/renewal-info"
                    self.reply(200, json.dumps(doc).encode())
                    return
                ident = self.path.removeprefix("/renewal-info/")
                answer = server.answers.get(ident)
                if not self.path.startswith("/renewal-info/") or answer is None:
                    self.reply(404, b'{"type": "urn:ietf:params:acme:error:malformed"}')
                    return
                body = answer.raw
                if body is None:
                    assert answer.start is not None and answer.end is not None
                    body = json.dumps(
                        {
                            "suggestedWindow": {
                                "start": answer.start.isoformat().replace("+00:00", "Z"),
                                "end": answer.end.isoformat().replace("+00:00", "Z"),
                            },
                            "explanationURL": "https://ari.example/why",
                        }
                    ).encode()
                self.reply(answer.status, body, answer.retry_after)

            def reply(self, status: int, body: bytes, retry_after: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(address, Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert(address[0]).configure_cert(ctx)
        self.address = address[0]
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        port = "" if self.port == 443 else f":{self.port}"
        return f"https://{self.address}{port}"

    @property
    def directory(self) -> str:
        return f"{self.base}/dir"

    def start(self) -> AriServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def info_requests(self) -> list[str]:
        return [p for p in self.requests if p.startswith("/renewal-info/")]


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `at`."""
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        length, at = int.from_bytes(data[at : at + count], "big"), at + count
    return tag, at, at + length


def expected_cert_id(cert_pem: Path) -> str:
    """RFC 9773's ID, computed here independently of certkeeper: the serial's bytes are
    cut out of the certificate's own DER (tbsCertificate: [0] version, then INTEGER)."""
    import base64

    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    tbs = cert.tbs_certificate_bytes
    _, inside, _ = _tlv(tbs, 0)
    tag, _, after_version = _tlv(tbs, inside)
    assert tag == 0xA0
    tag, start, end = _tlv(tbs, after_version)
    assert tag == 0x02
    serial = tbs[start:end]
    assert int.from_bytes(serial, "big") == cert.serial_number

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(aki.key_identifier)}.{b64(serial)}"


def point_renewal_conf(config_dir: Path, cert_name: str, directory: str) -> None:
    """Make the lineage's CA directory (certbot's `server`) the ARI server's."""
    conf = config_dir / "renewal" / f"{cert_name}.conf"
    lines = conf.read_text().splitlines()
    section = ""
    for i, line in enumerate(lines):
        if line.startswith("["):
            section = line.strip()
        if section == "[renewalparams]" and line.startswith("server = "):
            lines[i] = f"server = {directory}"
    conf.write_text("\n".join(lines) + "\n")
