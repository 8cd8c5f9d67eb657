"""A hostile DNS server on loopback (UDP only): it answers each query the way `mode` says.

Modes:
    garbage   random bytes
    silent    reads the query, never answers
    truncated the TC bit and nothing else (no TCP listener: the retry over TCP is refused)
    wrongid   a well-formed answer to another query id
    loop      a CNAME a -> b -> a chain and no CAA
    many      1,000 CAA records at the queried name
    huge      one CAA record whose value is 60,000 bytes of ESC, CR, LF and text
    oddtag    a critical record whose tag holds ESC and NUL (dnspython refuses the message)
"""

from __future__ import annotations

import os
import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.CAA import CAA
from dns.rdtypes.ANY.CNAME import CNAME

MODES = ("garbage", "silent", "truncated", "wrongid", "loop", "many", "huge", "oddtag")
HUGE_VALUE = (b"\x1b[2J\r\nBcc: x@evil.test " * 2500)[:60_000]


def _caa(flags: int, tag: bytes, value: bytes) -> CAA:
    return CAA(dns.rdataclass.IN, dns.rdatatype.CAA, flags, tag, value)  # type: ignore[no-untyped-call]


def _answer(query: dns.message.Message, mode: str) -> bytes:
    reply = dns.message.make_response(query)
    name = query.question[0].name
    caa = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.CAA)
    if mode == "truncated":
        reply.flags |= dns.flags.TC
    elif mode == "wrongid":
        reply.id = (query.id + 1) % 65536
        caa.add(_caa(0, b"issue", b"evil.test"))
    elif mode == "loop":
        other = dns.name.from_text("b." + name.to_text())
        for owner, target in ((name, other), (other, name)):
            rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.CNAME)
            rrset.add(CNAME(dns.rdataclass.IN, dns.rdatatype.CNAME, target))  # type: ignore[no-untyped-call]
            reply.answer.append(rrset)
    elif mode == "many":
        for n in range(1000):
            caa.add(_caa(0, b"issue", f"ca{n}.test".encode()))
    elif mode == "huge":
        caa.add(_caa(0, b"issue", HUGE_VALUE))
    elif mode == "oddtag":
        caa.add(_caa(128, b"isXsueY", b"letsencrypt.org"))
    if len(caa):
        reply.answer.append(caa)
    # dnspython refuses to build a tag that is not alphanumeric: the bytes are put in after.
    return reply.to_wire(max_size=65535).replace(b"isXsueY", b"is\x1bsue\x00")


class HostileDns:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return  # closed
            self.queries += 1
            if self.mode == "silent":
                continue
            if self.mode == "garbage":
                self.sock.sendto(data[:2] + os.urandom(200), peer)
                continue
            self.sock.sendto(_answer(dns.message.from_wire(data), self.mode), peer)

    def close(self) -> None:
        self.sock.close()
