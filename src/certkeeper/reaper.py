"""certkeeper adopts the orphans of the commands it runs, so that it can kill them.

Kept apart from proc.py so that the command line entry point can call it without
importing the subprocess machinery (`certkeeper --version` stays instant).
"""

from __future__ import annotations

_PR_SET_CHILD_SUBREAPER = 36

# Set by the command line entry point; proc.run adopts on its first command, so that
# `status` and `--version`, which run none, never load ctypes.
wanted = False
_done = False


def want() -> None:
    global wanted
    wanted = True


def adopt_if_wanted() -> None:
    global _done
    if wanted and not _done:
        _done = True
        adopt_orphans()


def adopt_orphans() -> bool:
    """Make this process the subreaper of everything it starts (Linux 3.4+).

    A process that certbot (or a hook) double-forks or moves into a new session with
    setsid is then re-parented to certkeeper instead of to init, so _kill_tree still
    finds it at the timeout. Only when the command line entry point asked for it
    (want()): a library user (a test runner) should not start adopting its own orphans.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
