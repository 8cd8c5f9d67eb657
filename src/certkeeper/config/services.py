"""The per-service files (the team's Ansible group_vars) and `--only`'s selection of them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper import names
from certkeeper.config.checker import Checker, load_yaml
from certkeeper.config.keys import SERVICE_KEYS, Key, children
from certkeeper.config.model import Lineage, Link, Service
from certkeeper.errors import ConfigError
from certkeeper.inputs import InputFileError, check_regular

if TYPE_CHECKING:
    from certkeeper.config.model import Config

CRON_PREFIXES = ("cert_renewal_", "cert_expiry_")


def load_services(folder: Path) -> tuple[Service, ...]:
    services, problems = _read_folder(folder, skip=None)
    problems.extend(text for _, text in _cross_checks(services))
    if problems:
        raise ConfigError(problems)
    return tuple(services)


def check_candidate(folder: Path, candidate: Path, name: str) -> tuple[Service, list[str]]:
    """`candidate` read as if it were folder/NAME.yaml, beside the other live files.

    Raises ConfigError with the candidate's own problems and its clashes with the live
    files: replacing the live file with it would break the config. Returns the service and
    the live files' other problems, which replacing this one file neither causes nor cures."""
    target = folder / f"{name}.yaml"
    try:
        names.path_component(name)
    except ValueError as exc:
        raise ConfigError([f"--as {name!r}: expected a service name: {exc}"]) from None
    others, warnings = _read_folder(folder, skip=target)
    service = load_service(candidate, as_file=target)
    clashes = _cross_checks([*others, service])
    problems = [text for file, text in clashes if file == target]
    if problems:
        raise ConfigError(problems)
    return service, warnings + [text for file, text in clashes if file != target]


def _read_folder(folder: Path, skip: Path | None) -> tuple[list[Service], list[str]]:
    if not folder.is_dir():
        raise ConfigError([f"{folder}: services_dir does not exist or is not a folder"])
    # Every *.yaml entry is looked at, not only regular files: a service file that turned
    # into a directory, a FIFO or a dangling symlink would otherwise vanish silently, and
    # with it that service's renewals.
    entries = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and p != skip)
    problems: list[str] = []
    services: list[Service] = []
    files: list[Path] = []
    for entry in entries:
        try:
            check_regular(entry)
        except InputFileError as exc:
            problems.append(f"{entry}: {exc}; this service's certificates are not handled")
            continue
        except OSError as exc:
            problems.append(f"{entry}: cannot read: {exc.strerror or exc}")
            continue
        files.append(entry)
    for file in files:
        try:
            services.append(load_service(file))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return services, problems


# What two files (or two entries) must not share, and how to say it.
_CLASHES = {
    "service": "service name {value!r} is also used by {other}: expected one file per service",
    "cert": "certbot_domains[{i}].cert_name = {value!r}: expected a cert_name not already"
    " used by {other}",
    "link": "certbot_services[{i}].name = {value!r}: expected a name not already used by"
    " {other} (the nginx symlinks would collide)",
}


def _cross_checks(services: list[Service]) -> list[tuple[Path, str]]:
    """Each clash, as the later file and its problem line."""
    problems: list[tuple[Path, str]] = []
    seen: dict[tuple[str, str], Path] = {}
    for svc in services:
        uses = [("service", 0, svc.name)]
        uses += [("cert", i, lin.cert_name) for i, lin in enumerate(svc.lineages)]
        uses += [("link", i, link.name) for i, link in enumerate(svc.links)]
        for kind, i, value in uses:
            other = seen.get((kind, value))
            seen[(kind, value)] = svc.file
            if other is not None:
                text = _CLASHES[kind].format(i=i, value=value, other=other)
                problems.append((svc.file, f"{svc.file}: {text}"))
    return problems


def load_service(file: Path, as_file: Path | None = None) -> Service:
    """One service file; read from `file`, but named, placed and reported as `as_file`
    when given (a candidate checked before it replaces the live file)."""
    raw = load_yaml(file)
    file = as_file or file
    chk = Checker(file)
    data = chk.mapping(raw, "")
    if chk.problems:
        raise ConfigError(chk.problems)
    # group_vars files carry other variables too; only certbot_* keys are ours.
    ours = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("certbot_")}
    chk.unknown_keys(ours, children("", SERVICE_KEYS), "")
    name = file.stem
    try:
        names.path_component(name)
    except ValueError as exc:
        chk.problems.append(f"{file}: service name (the file name) {name!r}: expected {exc}")
    values = {key.field: chk.read(ours, key, "") for key in SERVICE_KEYS}
    # An ACME account is needed to issue; an explicit null is the group_vars way of
    # saying "none", and is let through for a service that never issues.
    if values["enabled"] and values["email"] is None and "certbot_email" not in ours:
        chk.bad("certbot_email", None, "the ACME account e-mail (required when certbot_enabled)")
    lineages = [
        Lineage(**entry)
        for entry in _entries(chk, values["lineages"], _key("lineages"))
        if entry["cert_name"] and entry["domains"]
    ]
    cert_names = [lin.cert_name for lin in lineages]
    links: list[Link] = []
    for i, entry in enumerate(_entries(chk, values["links"], _key("links"))):
        source = entry["cert_source"]
        if source is not None and cert_names and source not in cert_names:
            chk.bad(
                f"certbot_services[{i}].cert_source",
                source,
                "one of this file's cert_name values: " + ", ".join(cert_names),
            )
        elif entry["name"] and source:
            links.append(Link(**entry))
    if chk.problems:
        raise ConfigError(chk.problems)
    return Service(
        name,
        file,
        values["enabled"],
        values["email"],
        values["renewal_days"],
        tuple(lineages),
        tuple(links),
        renewal_days_set="certbot_renewal_days" in ours,
    )


def _key(field: str) -> Key:
    return next(key for key in SERVICE_KEYS if key.field == field)


def _entries(chk: Checker, entries: list[Any], key: Key) -> list[dict[str, Any]]:
    """Each entry of a list key, checked against its item keys, by the model's field names."""
    result: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        where = f"{key.name}[{i}]"
        if not isinstance(entry, dict):
            chk.bad(where, entry, "a mapping with " + _and(k.name for k in key.items))
            continue
        chk.unknown_keys(entry, children("", key.items), where)
        result.append({item.field: chk.read(entry, item, where) for item in key.items})
    return result


def _and(words: Iterable[str]) -> str:
    items = list(words)
    return ", ".join(items[:-1]) + " and " + items[-1]


def select(cfg: Config, only: str | None) -> tuple[Service, ...]:
    """The services `--only` names: a service (its file name), the cron spellings
    cert_renewal_X / cert_expiry_X, or a cert_name (as the ERROR card prints it), which
    selects that one certificate of its service."""
    if not only:
        return cfg.services
    wanted = only
    for prefix in CRON_PREFIXES:
        if only.startswith(prefix) and only[len(prefix) :]:
            wanted = only[len(prefix) :]
            break
    chosen = tuple(svc for svc in cfg.services if svc.name == wanted)
    if chosen:
        return chosen
    for svc in cfg.services:
        lineages = tuple(lin for lin in svc.lineages if lin.cert_name == wanted)
        if lineages:
            return (svc.replace(lineages=lineages),)
    known = ", ".join(svc.name for svc in cfg.services) or "(none)"
    certs = ", ".join(lin.cert_name for svc in cfg.services for lin in svc.lineages) or "(none)"
    raise ConfigError(
        [
            f"--only = {only!r}: expected a service file in {cfg.services_dir} or a cert_name; "
            f"services: {known}; cert_names: {certs}"
        ]
    )
