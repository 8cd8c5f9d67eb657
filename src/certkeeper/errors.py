"""Errors that end a command with a clear line instead of a traceback."""

from __future__ import annotations


class CertkeeperError(Exception):
    """An expected failure: the message is shown to the user as is."""


class ConfigError(CertkeeperError):
    """One or more configuration problems; every one of them is reported."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class LockBusy(CertkeeperError):
    """Another certkeeper run holds the host lock."""


class HookRefused(CertkeeperError):
    """The deploy hook was called with a RENEWED_LINEAGE that is not one of our lineages."""
