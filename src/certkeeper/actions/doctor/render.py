"""doctor's results as a person reads them (one line per check) and as --json."""

from __future__ import annotations

import json

from certkeeper.actions.doctor.base import Result


def exit_code(results: list[Result]) -> int:
    return 0 if all(r.ok for r in results) else 1


def text(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        mark = "\u2713" if r.ok else "\u2717"
        where = f" [{r.subject}]" if r.subject else ""
        line = f"{mark} {r.title}{where}: {r.finding}"
        if not r.ok and r.fix:
            line += f" \u2192 fix: {r.fix}"
        lines.append(line)
        lines.extend(f"    {d}" for d in r.details)
    failed = sum(not r.ok for r in results)
    lines.append(
        f"{len(results) - failed} of {len(results)} checks passed"
        + (f"; {failed} failed" if failed else "")
    )
    return lines


def as_json(results: list[Result]) -> str:
    return json.dumps(
        {
            "ok": all(r.ok for r in results),
            "checks": [
                {
                    "check": r.check,
                    "title": r.title,
                    "subject": r.subject or None,
                    "ok": r.ok,
                    "finding": r.finding,
                    "fix": r.fix or None,
                    "details": list(r.details),
                }
                for r in results
            ],
        }
    )
