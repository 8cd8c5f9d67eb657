"""`certkeeper doctor [SERVICE]`: the guide's "What To Do When Things Go Wrong", automated.

Each check is a small function returning a frozen `Result` (check, ok, finding, fix);
rendering is apart, in render/doctor.py. Every check runs in its own worker thread and
the whole run has one deadline: a check still running then is reported as "timed out"
while the others still report.

doctor changes nothing except the random HTTP-01 token it writes into a webroot, which
it always removes (the runner removes it again after the deadline, in case the check's
own thread is stuck). It never runs certbot, and sends nothing unless asked to.

One module per family of checks, so each stays small enough to read at once:
- base: Result, Options, escaping, --resolve;  tokens: the HTTP-01 test token;
- http01: DNS, the HTTP-01 path, the webroot under the unit's sandbox;
- lineage: nginx -t, certbot's lineage and renewal conf, the symlinks, disk vs served;
- host: the deploy hook and the timer;  notify: outbox and SMTP;  history: last attempt;
- runner: threads and the deadline.
"""

from certkeeper.actions.doctor.base import (
    Options,
    Result,
    clean,
    exit_code,
    needs_root,
    one_line,
    parse_resolve,
)
from certkeeper.actions.doctor.runner import Job, config_failed, doctor, jobs, run_jobs

__all__ = [
    "Job",
    "Options",
    "Result",
    "clean",
    "config_failed",
    "doctor",
    "exit_code",
    "jobs",
    "needs_root",
    "one_line",
    "parse_resolve",
    "run_jobs",
]
