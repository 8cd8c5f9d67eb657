"""What certbot and nginx hold: nginx -t, certbot's lineage and renewal conf, the
symlinks nginx reads, and whether nginx serves the certificate on disk."""

from __future__ import annotations

import os
from pathlib import Path

from certkeeper import certbot, deploy, names, proc
from certkeeper.actions.doctor.base import (
    Options,
    Result,
    clean,
    lineage_ids,
    local_address,
    needs_root,
    one_line,
)
from certkeeper.certbot import live_dir, read_disk
from certkeeper.config import Config, Lineage, Service
from certkeeper.survey import probe_domains

LE_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"


def check_nginx(cfg: Config, opts: Options) -> Result:
    title = "nginx -t"
    result = proc.run(cfg.nginx.test_command, timeout=max(1.0, opts.budget - 1))
    said = one_line(result.output_tail(10), 800)
    if result.ok:
        return Result("nginx", title, "", True, said or "passed")
    if os.geteuid() != 0 and "Permission denied" in said:
        # nginx -t opens the pid file, the logs and every key: a user cannot test them.
        return needs_root("nginx", title, "", f"nginx -t as this user: {said}")
    if result.timed_out:
        return Result(
            "nginx",
            title,
            "",
            False,
            f"timed out: {clean(result.describe(), 200)}",
            "run the test command by hand (nginx.test_command) to see where it hangs",
        )
    return Result(
        "nginx",
        title,
        "",
        False,
        f"{clean(result.describe(), 200)}: {said}",
        "fix the configuration nginx names, run nginx -t until it passes, then "
        "certkeeper check --no-jitter (nginx keeps serving the old certificates meanwhile)",
    )


def _configured_server(cfg: Config) -> str:
    args = list(cfg.certbot.extra_args)
    server = LE_DIRECTORY
    for i, arg in enumerate(args):
        if arg == "--server" and i + 1 < len(args):
            server = args[i + 1]
        elif arg.startswith("--server="):
            server = arg.split("=", 1)[1]
    return server


def check_lineage(cfg: Config, svc: Service, lin: Lineage) -> Result:
    title = "certbot knows the lineage"
    live = live_dir(cfg, lin.cert_name)
    conf = certbot.renewal_conf(cfg.certbot.config_dir, lin.cert_name)
    again = f"certkeeper check --no-jitter {lineage_ids(svc, lin)}"

    def failed(finding: str, fix: str) -> Result:
        return Result("lineage", title, lin.cert_name, False, finding, fix)

    disk, error = read_disk(cfg, lin.cert_name)
    if error:
        return failed(
            clean(error, 300),
            f"look at {live}: certbot's own files; restore them from the archive/ folder",
        )
    if disk is None:
        return failed(
            f"no lineage: {live}/cert.pem does not exist",
            f"{again} issues it (certbot certonly --webroot)",
        )
    if not conf.is_file():
        return failed(
            f"{live} exists but {conf} does not: certbot does not know this lineage and "
            "will not renew it (certbot certificates does not list it)",
            f"restore {conf} from a backup, or move {live} and its archive/ folder aside "
            f"and let `{again}` issue it again",
        )
    problems = _conf_problems(cfg, lin)
    if problems:
        return failed(
            f"{conf}: " + "; ".join(problems),
            "certbot renew uses the webroot and server stored in the renewal conf, not the "
            f"config's: correct them in {conf} (webroot_map, server), or re-issue with "
            f"certkeeper check --no-jitter --force {lineage_ids(svc, lin)}",
        )
    return Result(
        "lineage",
        title,
        lin.cert_name,
        True,
        f"{live} holds serial {disk.serial_hex} (expires {disk.not_after:%Y-%m-%d %H:%M} UTC); "
        f"{conf.name} names the same webroot and server",
    )


def _conf_problems(cfg: Config, lin: Lineage) -> list[str]:
    """Where the renewal conf disagrees with the config: `certbot renew` follows the conf."""
    params = certbot.read_renewalparams(cfg.certbot.config_dir, lin.cert_name)
    roots = certbot.read_webroot_map(cfg.certbot.config_dir, lin.cert_name)
    problems = []
    fallback = params.get("webroot_path", "").rstrip(",").strip()
    for domain in lin.domains:
        stored = roots.get(domain) or fallback
        if not stored:
            problems.append(f"{domain}: no webroot in the renewal conf")
        elif Path(stored) != lin.webroot:
            problems.append(
                f"{domain}: webroot {clean(stored, 200)}, the config says {lin.webroot}"
            )
    server = params.get("server", "")
    if server != _configured_server(cfg):
        problems.append(
            f"server {clean(server, 200) or '(none)'}, the config says {_configured_server(cfg)}"
        )
    return problems


def check_symlinks(cfg: Config, lin: Lineage) -> Result:
    title = "The symlinks"
    live = live_dir(cfg, lin.cert_name)
    links = cfg.links_for(lin.cert_name)
    if not links:
        return Result(
            "symlinks", title, lin.cert_name, True, "no certbot_services entry uses this lineage"
        )
    wrong = []
    count = 0
    fix = ""
    for link in links:
        for suffix, target in deploy.LINK_FILES:
            path = cfg.nginx.certs_dir / f"{link.name}.{suffix}"
            want = live / target
            count += 1
            try:
                raw = os.readlink(path)
            except FileNotFoundError:
                wrong.append(f"{path} is missing")
            except OSError:
                wrong.append(f"{path} is not a symlink")
            else:
                seen = Path(os.path.normpath(path.parent / raw))
                if seen == want:
                    continue
                wrong.append(f"{path} points at {clean(raw, 200)}, not {want}")
            fix = fix or f"ln -sfn {want} {path}"
    if wrong:
        return Result(
            "symlinks",
            title,
            lin.cert_name,
            False,
            "; ".join(wrong),
            f"{fix} (and likewise for the others), then nginx -t and "
            "certkeeper check --no-jitter, which reloads and verifies",
        )
    return Result(
        "symlinks",
        title,
        lin.cert_name,
        True,
        f"{count} link(s) in {cfg.nginx.certs_dir} -> {live}",
    )


def check_served(cfg: Config, svc: Service, lin: Lineage) -> Result:
    title = "Disk and served agree"
    disk, _ = read_disk(cfg, lin.cert_name)
    if disk is None:
        return Result(
            "served",
            title,
            lin.cert_name,
            True,
            "no certificate on disk to compare (the lineage check says why)",
        )
    problems = []
    results = probe_domains(cfg, list(lin.domains))
    for domain, result in zip(lin.domains, results, strict=True):
        cert = result.cert
        if cert is None:
            problems.append(f"{domain}: unreachable ({clean(result.error or '', 200)})")
        elif not result.covered:
            problems.append(f"{domain}: nginx serves a certificate without this name")
        elif cert.serial != disk.serial:
            problems.append(
                f"{domain}: nginx serves serial {cert.serial_hex} (expires "
                f"{cert.not_after:%Y-%m-%d %H:%M} UTC), the disk holds {disk.serial_hex} "
                f"(expires {disk.not_after:%Y-%m-%d %H:%M} UTC)"
            )
    target = f"{local_address(cfg)}:{cfg.probe.port}"
    if cfg.probe.connect_host == names.PROBE_DNS:
        target = f"DNS, port {cfg.probe.port}"
    if problems:
        mismatch = any("serves serial" in p for p in problems)
        fix = (
            f"renewed but not reloaded: certkeeper check --no-jitter {lineage_ids(svc, lin)} "
            "sees the MISMATCH, reloads nginx and verifies"
            if mismatch
            else "the server block must serve the lineage through the symlinks: "
            + " ".join(deploy.server_block_lines(cfg, lin.cert_name))
            + " with every name in server_name; then nginx -t and reload"
        )
        return Result(
            "served", title, lin.cert_name, False, f"probing {target}: " + "; ".join(problems), fix
        )
    return Result(
        "served",
        title,
        lin.cert_name,
        True,
        f"{target} serves serial {disk.serial_hex} for {', '.join(lin.domains)}",
    )
