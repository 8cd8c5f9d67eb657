"""This certkeeper as certbot's deploy hook script runs it: install-hook writes the
argv into the script, doctor checks that the script still says it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from certkeeper.cli.wrapper import Run


def this_certkeeper(run: Run) -> list[str]:
    exe = shutil.which("certkeeper")
    argv = [exe] if exe else [sys.executable, "-m", "certkeeper"]
    if run.config_arg:
        argv += ["--config", str(Path(run.config_arg).absolute())]
    return argv
