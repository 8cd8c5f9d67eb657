"""`certkeeper deploy-hook`: what certbot's deploy hook script runs after a renewal."""

from __future__ import annotations

import os

from certkeeper import render
from certkeeper.actions.deploy_hook import deploy_hook as hook_action
from certkeeper.cli.wrapper import Run, command, say

TAG = "certbot-deploy"


@command("deploy-hook", tag=TAG)
def deploy_hook(run: Run) -> int:
    """Run by certbot after it renewed a certificate (RENEWED_LINEAGE is set).

    Points the nginx symlinks (<service>.fullchain.crt, .ca-bundle.crt, .key in
    nginx.certs_dir) at the new lineage, runs nginx -t and, only if it passes, the
    reload; then probes that nginx serves the new certificate and notifies. Logs to
    syslog as certbot-deploy: journalctl -t certbot-deploy -n 50

    Exit: 0 deployed and verified, 1 a step failed, 2 usage or configuration error, or a
    RENEWED_LINEAGE that is not one of this host's lineages.
    """
    result = hook_action(run.config(), os.environ.get("RENEWED_LINEAGE"))
    lines = [result.message, *render.undelivered(result.undelivered)]
    say("\n".join(lines), err=result.exit_code != 0)
    return result.exit_code
