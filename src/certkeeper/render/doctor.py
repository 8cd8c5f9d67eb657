"""doctor's results as a person reads them at 3 a.m., and as --json.

The text: the verdict first, then each failed check with its fix on a line of its own
(and certbot's log only under a check that needs it), then the checks that could not
run, then the ones that passed. Every line fits WIDTH columns: a failed check's text
wraps onto indented lines, a passed check's is shortened; --json has everything whole.
"""

from __future__ import annotations

import json

from certkeeper.actions.doctor.base import Result
from certkeeper.terminal import wrap

WIDTH = 120
INDENT = "    "
PASSED, FAILED, UNSEEN = "\u2713", "\u2717", "?"


def _names(results: list[Result]) -> str:
    """The titles once each, in the order they ran (a per-certificate check repeats)."""
    return ", ".join(dict.fromkeys(r.title for r in results))


def verdict(results: list[Result]) -> str:
    failed = [r for r in results if not r.ok and not r.could_not_run]
    unseen = [r for r in results if r.could_not_run]
    total = len(results)
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {total} checks fail: {_names(failed)}")
    if unseen:
        lead = (
            f"{len(unseen)} could not run"
            if failed
            else f"{len(unseen)} of {total} checks could not run"
        )
        parts.append(f"{lead} (needs root): {_names(unseen)}")
    if not parts:
        return f"all {total} checks pass"
    return "; ".join(parts)


def _head(mark: str, r: Result) -> str:
    where = f" [{r.subject}]" if r.subject else ""
    return f"{mark} {r.title}{where}: {r.finding}"


def _short(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def _failed_lines(r: Result) -> list[str]:
    lines = wrap(_head(FAILED, r), WIDTH, INDENT)
    if r.fix:
        lines += wrap(f"{INDENT}fix: {r.fix}", WIDTH, INDENT + "     ")
    lines += [_short(f"{INDENT}| {d}") for d in r.details]
    return lines


def text(results: list[Result]) -> list[str]:
    lines = wrap(verdict(results), WIDTH, INDENT)
    failed = [r for r in results if not r.ok and not r.could_not_run]
    unseen = [r for r in results if r.could_not_run]
    passed = [r for r in results if r.ok]
    for r in failed:
        lines += _failed_lines(r)
    for r in unseen:
        lines.append(_short(_head(UNSEEN, r)))
        lines.append(f"{INDENT}{r.fix}")
    lines += [_short(_head(PASSED, r)) for r in passed]
    return lines


def as_json(results: list[Result]) -> str:
    return json.dumps(
        {
            "ok": all(r.ok for r in results),
            "verdict": verdict(results),
            "checks": [
                {
                    "check": r.check,
                    "title": r.title,
                    "subject": r.subject or None,
                    "ok": r.ok,
                    "could_not_run": r.could_not_run,
                    "finding": r.finding,
                    "fix": r.fix or None,
                    "details": list(r.details),
                }
                for r in results
            ],
        }
    )
