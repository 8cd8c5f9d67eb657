"""The one exit-code table: what each code means, for the two Nagios plugins and for every
other command, and what a command exits with when it could not give its own answer.

`certkeeper --help` and docs/exit-codes.md show TABLE; tests/integration/test_exit_codes.py
holds both to it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Code(IntEnum):
    OK = 0
    FAILED = 1  # a command: something failed or could not run (named on stderr)
    USAGE = 2  # a command: a usage or configuration error, before it did anything
    UNKNOWN = 3  # a plugin: anything it could not judge


class Contract(NamedTuple):
    """The codes a command exits with when it could not give its own answer."""

    usage: Code  # a mistyped option, a missing argument (click's usage message)
    config: Code  # the configuration, or an input the command refuses (deploy-hook's lineage)
    failed: Code  # the lock is busy, permission denied, stdout closed, an internal error


# status and report: monitoring reads anything but 0, 1, 2 as "could not judge".
PLUGIN = Contract(usage=Code.UNKNOWN, config=Code.UNKNOWN, failed=Code.UNKNOWN)
COMMAND = Contract(usage=Code.USAGE, config=Code.USAGE, failed=Code.FAILED)


class Row(NamedTuple):
    code: int
    plugin: str  # status and report
    command: str  # every other command


TABLE = (
    Row(0, "OK", "done (doctor: every check passed)"),
    Row(
        1,
        "WARNING: a certificate is DUE, WARN or PAUSED, or a config mistake holds notices",
        "failed or could not run, named on stderr (doctor: a check failed or could not run)",
    ),
    Row(
        2,
        "CRITICAL: EXPIRED, NOT_YET_VALID, UNREACHABLE, MISSING, MISMATCH or NOT_COVERED",
        "a usage or configuration error, before anything was done",
    ),
    Row(
        3,
        "UNKNOWN: could not judge (a usage or configuration error, no service configured, "
        "a STALE host, an internal error)",
        "-",
    ),
)


def help_rows() -> list[tuple[str, str]]:
    """The table as `certkeeper --help` ends it: one entry per code and kind of command."""
    rows = []
    for row in TABLE:
        rows.append((str(row.code), f"status, report: {row.plugin}"))
        if row.command != "-":
            rows.append(("", f"other commands: {row.command}"))
    return rows
