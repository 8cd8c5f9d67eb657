"""`certkeeper install-hook`: certbot's deploy hook script, so its own renewals are deployed."""

from __future__ import annotations

from certkeeper import hook
from certkeeper.cli.hook_argv import this_certkeeper
from certkeeper.cli.wrapper import Run, command, say_line


@command("install-hook")
def install_hook(run: Run) -> int:
    """Write <certbot.config_dir>/renewal-hooks/deploy/certkeeper.sh so that renewals made
    by certbot itself are deployed and verified too. Safe to run again.
    Exit: 0 written or unchanged, 1 it could not be written, 2 usage or configuration error."""
    path, changed = hook.install(run.config(), this_certkeeper(run))
    say_line(f"{'wrote' if changed else 'unchanged'}: {path}")
    return 0
