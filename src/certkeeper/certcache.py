"""What the certificates on disk say, remembered so `status` need not parse them again.

Parsing a certificate needs `cryptography`, whose import alone costs about as much as
the whole interpreter's start-up. A host's certificates change every few weeks, so the
facts certkeeper reads from each lineage's cert.pem (serial, dates, issuer, SANs, AKI,
and the sha256 of the leaf's DER) are kept in `<state_dir>/certinfo-cache.json`, keyed
by the sha256 of the file's exact bytes: an entry can only ever describe those bytes,
and a renewed certificate is simply a new key.

The file is a cache, never a source of truth. Whoever parsed a certificate (status,
check) writes it, atomically, and only into a state_dir that exists and is private to
the user running certkeeper. A reader trusts nothing in it: a file that is not a
regular file owned by this user and closed to others' writes, too large, not JSON, or
an entry with any field out of shape is ignored, and the certificate is parsed again.
Deleting the file at any time is harmless.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from datetime import datetime
from pathlib import Path

from certkeeper.times import CERTIFICATE_EARLIEST, CERTIFICATE_LATEST, from_iso, iso
from certkeeper.value import Value
from certkeeper.x509info import CertInfo

CACHE_NAME = "certinfo-cache.json"
FORMAT = 1
# Hundreds of lineages are a few hundred KiB; anything larger is not ours.
MAX_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 4096
# Bounds a parsed certificate could never exceed in practice; beyond them, parse again.
_MAX_SERIAL_BITS = 8 * 64
_MAX_TEXT = 4096
_MAX_SANS = 2000
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_HEX = re.compile(r"(?:[0-9a-f]{2}){1,64}\Z")
_FIELDS = frozenset({"der_sha256", "serial", "not_before", "not_after", "issuer", "sans", "aki"})


class Known(Value):
    """One disk certificate's facts, and the sha256 of its leaf's DER."""

    info: CertInfo
    der_sha256: str


def file_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def der_key(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _when(value: object) -> datetime | None:
    # Written by times.iso, so in UTC with a Z: any other spelling is not ours. A date of
    # the certificate's, so as far off as a certificate may carry.
    if not (isinstance(value, str) and value.endswith("Z")):
        return None
    return from_iso(value, CERTIFICATE_EARLIEST, CERTIFICATE_LATEST)


def _entry(raw: object) -> Known | None:
    """A Known from one hostile JSON value, or None at the first doubt."""
    if not isinstance(raw, dict) or set(raw) != _FIELDS:
        return None
    serial, issuer, sans, aki, der = (
        raw["serial"],
        raw["issuer"],
        raw["sans"],
        raw["aki"],
        raw["der_sha256"],
    )
    if type(serial) is not int or serial < 0 or serial.bit_length() > _MAX_SERIAL_BITS:
        return None
    if not isinstance(issuer, str) or len(issuer) > _MAX_TEXT:
        return None
    if not isinstance(sans, list) or len(sans) > _MAX_SANS:
        return None
    if not all(isinstance(s, str) and 0 < len(s) <= 255 for s in sans):
        return None
    if aki is not None and not (isinstance(aki, str) and _HEX.match(aki)):
        return None
    if not isinstance(der, str) or not _HEX64.match(der):
        return None
    not_before, not_after = _when(raw["not_before"]), _when(raw["not_after"])
    if not_before is None or not_after is None or not_before > not_after:
        return None  # x509info never reads such a period from a certificate either
    info = CertInfo(
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        issuer=issuer,
        sans=tuple(sans),
        aki=bytes.fromhex(aki) if aki is not None else None,
    )
    return Known(info, der)


def _read(path: Path) -> bytes | None:
    """The file's bytes if it is ours and private, else None. Never follows a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.geteuid()
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            or st.st_size > MAX_BYTES
        ):
            return None
        data = os.read(fd, MAX_BYTES + 1)
        return data if len(data) <= MAX_BYTES else None
    except OSError:
        return None
    finally:
        os.close(fd)


class CertCache:
    """The entries of one state_dir's cache file; `save()` writes back what was added."""

    def __init__(self, state_dir: Path | None) -> None:
        self._state_dir = state_dir
        self._entries: dict[str, Known] = {}
        self._added = False
        if state_dir is not None:
            self._entries = self._load(state_dir / CACHE_NAME)

    @staticmethod
    def _load(path: Path) -> dict[str, Known]:
        data = _read(path)
        if data is None:
            return {}
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            return {}
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return {}
        raw = doc.get("certificates")
        if not isinstance(raw, dict):
            return {}
        found: dict[str, Known] = {}
        for key, value in list(raw.items())[:MAX_ENTRIES]:
            entry = _entry(value)
            if isinstance(key, str) and _HEX64.match(key) and entry is not None:
                found[key] = entry
        return found

    def get(self, data: bytes) -> Known | None:
        return self._entries.get(file_key(data))

    def put(self, data: bytes, info: CertInfo, der: bytes) -> Known:
        known = Known(info, der_key(der))
        key = file_key(data)
        if self._entries.get(key) != known:
            self._entries.pop(key, None)  # re-inserted last: the newest survive the cap
            self._entries[key] = known
            self._added = True
        return known

    def save(self) -> None:
        """Write the file if anything was added, and only where it is safe; never fails."""
        if not self._added or self._state_dir is None:
            return
        from certkeeper.trust import private_dir_problem

        folder = self._state_dir
        try:
            if not folder.is_dir() or folder.is_symlink() or private_dir_problem(folder, "x"):
                return
        except OSError:
            return
        entries = list(self._entries.items())[-MAX_ENTRIES:]
        doc = {
            "format": FORMAT,
            "what": "certkeeper's cache of parsed disk certificates; safe to delete",
            "certificates": {
                key: {
                    "der_sha256": k.der_sha256,
                    "serial": k.info.serial,
                    "not_before": iso(k.info.not_before),
                    "not_after": iso(k.info.not_after),
                    "issuer": k.info.issuer,
                    "sans": list(k.info.sans),
                    "aki": k.info.aki.hex() if k.info.aki is not None else None,
                }
                for key, k in entries
            },
        }
        from certkeeper import atomic

        with contextlib.suppress(OSError, ValueError):
            atomic.write_bytes(folder / CACHE_NAME, json.dumps(doc).encode(), mode=0o600)
        self._added = False
