"""Logging: structured key=value lines to syslog/journal, to stderr only when asked.

Cron mails whatever a job prints, so a quiet run must print nothing; the
journal keeps the detail (`journalctl -t certkeeper`, `-t certbot-deploy`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_LOGGER_NAME = "certkeeper"
_configured = False


def _setup_structlog() -> None:
    global _configured
    if _configured:
        return
    # Imported here, not at the top: `status` never logs, and structlog costs ~40 ms.
    import structlog

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(key_order=["level", "event"], sort_keys=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _configured = True


# What configure() asked for, applied by the first log line. `status` and the other
# read-only commands normally never log, and `logging` + `logging.handlers` + the syslog
# socket cost ~10 ms of every start: so configure() only records, and the handlers are
# built (exactly as configure() asked) when something is first logged. A crash's traceback goes
# through get_logger() too, so it still reaches syslog.
_pending: tuple[str, bool, bool] | None = None
_base_ready = False


def configure(tag: str = "certkeeper", verbose: bool = False) -> None:
    """Send logs to syslog under `tag`, and to stderr on a TTY or with -v (from the first
    log line on)."""
    global _pending
    # The TTY is judged now, as the command starts, as it was when handlers were built here.
    _pending = (tag, verbose, verbose or sys.stderr.isatty())
    if _base_ready:
        _apply()


def _apply() -> None:
    global _pending, _base_ready
    import logging

    base = logging.getLogger(_LOGGER_NAME)
    if not _base_ready:
        # Until configure() runs (library use, tests), log nowhere rather than to stdout.
        base.addHandler(logging.NullHandler())
        base.setLevel(logging.INFO)
        base.propagate = False
        _base_ready = True
    if _pending is None:
        return
    tag, verbose, to_stderr = _pending
    _pending = None
    import logging.handlers

    for handler in list(base.handlers):
        base.removeHandler(handler)
    base.addHandler(logging.NullHandler())
    if os.path.exists("/dev/log"):
        try:
            syslog = logging.handlers.SysLogHandler(address="/dev/log")
            syslog.ident = f"{tag}[{os.getpid()}]: "
            syslog.setFormatter(logging.Formatter("%(message)s"))
            base.addHandler(syslog)
        except OSError:
            pass  # no syslog daemon: stderr below is all we have
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(f"{tag}: %(message)s"))
        stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
        base.addHandler(stream)
    base.setLevel(logging.DEBUG if verbose else logging.INFO)


def get_logger(**context: Any) -> Any:
    _apply()
    _setup_structlog()
    import structlog

    return structlog.get_logger(_LOGGER_NAME).bind(**context)
