"""The doctor run: every check in its own thread against one deadline, in the order the
guide's troubleshooting takes them, and the token clean-up whatever happens."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from certkeeper import certbot, deploy
from certkeeper.actions.doctor.base import Options, Result, clean, needs_root, unseen
from certkeeper.actions.doctor.caa import TITLE as CAA_TITLE
from certkeeper.actions.doctor.caa import check_caa
from certkeeper.actions.doctor.history import check_history
from certkeeper.actions.doctor.host import check_hook, check_timer
from certkeeper.actions.doctor.http01 import check_dns, check_http01, check_webroot
from certkeeper.actions.doctor.lineage import (
    check_lineage,
    check_nginx,
    check_served,
    check_symlinks,
)
from certkeeper.actions.doctor.mode import check_mode
from certkeeper.actions.doctor.notify import check_notify
from certkeeper.actions.doctor.tokens import TokenJar
from certkeeper.config import Config, Lineage, Service
from certkeeper.errors import ConfigError
from certkeeper.notify import outbox
from certkeeper.value import Value


class Job(Value):
    check: str
    title: str
    subject: str
    run: Callable[[], Result]
    # What the check must see, and how (os.R_OK, os.W_OK): a user who cannot gets
    # "needs root" instead of a finding about files it never saw.
    needs: tuple[tuple[Path, int], ...] = ()


def _needs(cfg: Config, check: str, lin: Lineage | None) -> tuple[tuple[Path, int], ...]:
    """The files and folders each check reads or writes, as this config places them."""
    config_dir, state_dir = cfg.certbot.config_dir, cfg.state_dir
    if lin is None:
        host_wide = {
            "hook": [config_dir / "renewal-hooks" / "deploy"],
            "notify": [outbox.outbox_dir(state_dir)],
        }
        return tuple((p, os.R_OK) for p in host_wide.get(check, []))
    live = certbot.live_dir(cfg, lin.cert_name)
    links = [
        cfg.nginx.certs_dir / f"{link.name}.{suffix}"
        for link in cfg.links_for(lin.cert_name)
        for suffix, _ in deploy.LINK_FILES
    ]
    per_lineage: dict[str, list[Path]] = {
        "lineage": [live / "cert.pem", certbot.renewal_conf(config_dir, lin.cert_name)],
        "symlinks": [*links],
        "served": [live / "cert.pem"],
        "history": [state_dir, Path(certbot.logs_file(cfg))],
    }
    found = tuple((p, os.R_OK) for p in per_lineage.get(check, []))
    if check in ("http01", "webroot"):
        found += ((lin.webroot, os.W_OK),)
    return found


def _unseen(job: Job) -> Result | None:
    """root sees everything; anyone else gets "needs root" for what it cannot see."""
    if os.geteuid() == 0:
        return None
    for path, mode in job.needs:
        why = unseen(path, mode)
        if why:
            return needs_root(job.check, job.title, job.subject, why)
    return None


def jobs(cfg: Config, services: tuple[Service, ...], opts: Options, jar: TokenJar) -> list[Job]:
    """In the issue's order: per-certificate checks for each lineage, host-wide ones once."""
    out: list[Job] = [Job("mode", "Mode and config mistakes", "", lambda: check_mode(cfg))]
    lineages = [(svc, lin) for svc in services for lin in svc.lineages]

    def each(check: str, title: str, make: Callable[[Service, Lineage], Result]) -> None:
        for svc, lin in lineages:
            run = functools.partial(make, svc, lin)
            out.append(Job(check, title, lin.cert_name, run, _needs(cfg, check, lin)))

    each("dns", "DNS", lambda s, ln: check_dns(cfg, ln, opts))
    each("caa", CAA_TITLE, lambda s, ln: check_caa(cfg, ln, opts))
    each("http01", "HTTP-01 path", lambda s, ln: check_http01(cfg, ln, opts, jar))
    each("webroot", "Webroot write under the unit", lambda s, ln: check_webroot(cfg, ln, opts))
    out.append(Job("nginx", "nginx -t", "", lambda: check_nginx(cfg, opts)))
    each("lineage", "certbot knows the lineage", lambda s, ln: check_lineage(cfg, s, ln))
    each("symlinks", "The symlinks", lambda s, ln: check_symlinks(cfg, ln))
    each("served", "Disk and served agree", lambda s, ln: check_served(cfg, s, ln))
    out.append(
        Job("hook", "The deploy hook", "", lambda: check_hook(cfg, opts), _needs(cfg, "hook", None))
    )
    out.append(Job("timer", "The timer", "", lambda: check_timer(cfg, opts)))
    out.append(
        Job(
            "notify",
            "Notifications",
            "",
            lambda: check_notify(cfg, opts),
            _needs(cfg, "notify", None),
        )
    )
    each("history", "History", lambda s, ln: check_history(cfg, s, ln))
    return out


def run_jobs(work: list[Job], budget: float) -> list[Result]:
    """Every job in its own daemon thread, all against one deadline: a hung check cannot
    hold the others, nor keep the process alive after the report."""
    slots: list[Result | None] = [None] * len(work)

    def runner(index: int, job: Job) -> None:
        try:
            slots[index] = _unseen(job) or job.run()
        except PermissionError as exc:
            slots[index] = needs_root(
                job.check, job.title, job.subject, f"cannot see {exc.filename}: permission denied"
            )
        except Exception as exc:  # a check that breaks is a finding, not a traceback
            slots[index] = Result(
                job.check,
                job.title,
                job.subject,
                False,
                clean(f"the check itself failed: {type(exc).__name__}: {exc}", 300),
                "run certkeeper -v doctor and report it",
            )

    threads = [
        threading.Thread(target=runner, args=(i, job), daemon=True, name=f"doctor-{job.check}")
        for i, job in enumerate(work)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + budget
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    results = []
    for job, slot in zip(work, list(slots), strict=True):
        results.append(
            slot
            if slot is not None
            else Result(
                job.check,
                job.title,
                job.subject,
                False,
                f"timed out: no answer within {budget:g}s",
                "run the step by hand to see where it hangs (doctor --timeout gives it longer)",
            )
        )
    return results


def doctor(cfg: Config, services: tuple[Service, ...], opts: Options) -> list[Result]:
    jar = TokenJar()
    config_ok = Result(
        "config",
        "Config",
        "",
        True,
        f"{cfg.path} and {len(cfg.services)} service file(s) in {cfg.services_dir} load",
    )
    try:
        results = [config_ok, *run_jobs(jobs(cfg, services, opts, jar), opts.budget)]
    finally:
        left = jar.clean_up()
    if left:
        results.append(
            Result(
                "http01",
                "HTTP-01 path",
                "",
                False,
                "the test token could not be removed: " + clean("; ".join(left), 400),
                "remove it by hand",
            )
        )
    return results


def config_failed(error: ConfigError | PermissionError) -> list[Result]:
    """The one Config result when the config did not load. A config only root may read
    (it holds the SMTP password), or one naming a file only root may read, is no config
    error to this user: it needs root."""
    if isinstance(error, PermissionError):
        return [
            needs_root("config", "Config", "", f"cannot read {error.filename}: permission denied")
        ]
    problems = error.problems
    if os.geteuid() != 0 and any(p.endswith("Permission denied") for p in problems):
        return [needs_root("config", "Config", "", "; ".join(problems))]
    return [
        Result(
            "config",
            "Config",
            "",
            False,
            clean("; ".join(problems), 2000),
            "fix each problem named (file: key = value: expected what), "
            "then certkeeper config validate",
        )
    ]
