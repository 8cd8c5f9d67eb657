"""The last attempt certkeeper recorded for a lineage, with certbot's log lines about it."""

from __future__ import annotations

import os
import re

from certkeeper import certbot
from certkeeper.actions.doctor.base import Result, clean, lineage_ids, one_line
from certkeeper.config import Config, Lineage, Service
from certkeeper.times import now

LOG_LINES = 20
MAX_LOG_BYTES = 2 * 1024 * 1024
_LOG_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _log_tail(cfg: Config, lin: Lineage) -> tuple[str, list[str]]:
    path = certbot.logs_file(cfg)
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - MAX_LOG_BYTES))
            data = handle.read(MAX_LOG_BYTES)
    except OSError as exc:
        return path, [f"(cannot read {path}: {exc.strerror or exc})"]
    keys = (lin.cert_name, *lin.domains)
    # Entries only (they start with a timestamp): certbot also dumps whole ACME JSON
    # documents into the log, one field a line, which say nothing to a person.
    lines = [
        line
        for line in data.decode("utf-8", errors="replace").splitlines()
        if _LOG_ENTRY.match(line) and any(key in line for key in keys)
    ]
    return path, [clean(line, 300) for line in lines[-LOG_LINES:]]


def check_history(cfg: Config, svc: Service, lin: Lineage) -> Result:
    title = "History"
    from certkeeper import state as state_mod

    state = state_mod.load(cfg.state_dir, now(), repair=False)
    rec = state.certs.get(lin.cert_name)
    log_path, tail = _log_tail(cfg, lin)
    details = tuple([f"last {len(tail)} line(s) of {log_path} for {lin.cert_name}:", *tail])
    if state.warnings:
        return Result(
            "history",
            title,
            lin.cert_name,
            False,
            clean("; ".join(state.warnings), 400),
            "certkeeper check moves an unreadable state file aside and starts afresh",
            details,
        )
    if rec is None or rec.last_attempt is None:
        return Result(
            "history",
            title,
            lin.cert_name,
            True,
            "certkeeper has not run certbot for it yet",
            details=details,
        )
    when = f"{rec.last_attempt:%Y-%m-%d %H:%M} UTC"
    if rec.last_result == "error":
        step = f" at step {clean(rec.failed_step, 100)}" if rec.failed_step else ""
        return Result(
            "history",
            title,
            lin.cert_name,
            False,
            f"last attempt {when} failed{step} ({rec.consecutive_failures} in a row): "
            + one_line(rec.last_error or "", 300),
            "read certbot's log below; fix that step, then certkeeper check --no-jitter "
            f"--force {lineage_ids(svc, lin)}",
            details,
        )
    return Result(
        "history",
        title,
        lin.cert_name,
        True,
        f"last attempt {when}: {clean(rec.last_result or 'unknown', 40)}",
        details=details,
    )
