"""`config validate` and `config show`: what the loaded configuration is, and what in it
will not work on this host. The file's own problems were raised by the loader already;
these are the ones only the disk and the installed unit can tell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper.config import Config, as_dict
from certkeeper.value import Value, field

if TYPE_CHECKING:
    from certkeeper.sandbox import Blocked


class Validation(Value):
    path: Path
    services: int
    certificates: int
    # notify.to unset: no notice reaches anyone.
    unsent: str | None = None
    # Services whose certbot_renewal_days the certificate on disk cannot honour.
    windows: list[str] = field(default_factory=list)
    # Configured paths the installed certkeeper.service's sandbox would not let it write.
    blocked: list[Blocked] = field(default_factory=list)
    # Mistakes that hold back only the notices or ARI: WARNING lines, exit 0, so that a
    # validate-before-replace does not refuse a config that still renews.
    mistakes: list[str] = field(default_factory=list)


def validate(cfg: Config, root: Path) -> Validation:
    """Look at the disk (lineages) and the unit installed under `root` for what a valid
    file still gets wrong: said now instead of by certbot at 03:00."""
    from certkeeper import sandbox
    from certkeeper.actions.common import unsent_warning

    unit = sandbox.installed_unit(root)
    return Validation(
        path=cfg.path,
        services=len(cfg.services),
        certificates=sum(len(s.lineages) for s in cfg.services),
        unsent=unsent_warning(cfg),
        windows=config_warnings(cfg),
        blocked=sandbox.blocked(cfg, unit) if unit is not None else [],
        mistakes=[m.text for m in cfg.mistakes],
    )


def config_warnings(cfg: Config) -> list[str]:
    """`config validate`'s look at the lineages on disk (none for a lineage not issued yet)."""
    from certkeeper.actions.common import window_warnings
    from certkeeper.certbot import read_disk

    return window_warnings(
        (svc, lin, read_disk(cfg, lin.cert_name)[0]) for svc in cfg.services for lin in svc.lineages
    )


def show(cfg: Config) -> dict[str, Any]:
    """The effective configuration, defaults filled in, secrets masked or redacted."""
    return as_dict(cfg)


class Candidate(Value):
    target: Path  # the live file the candidate would replace
    certificates: int
    # Problems of the live config that replacing this one file neither causes nor cures.
    warnings: list[str]


def validate_candidate(config_file: Path, candidate: Path, name: str) -> Candidate:
    """May `candidate` replace services_dir/NAME.yaml? Raises ConfigError with its own
    problems and its clashes with the other live files (a cert_name used twice).

    The global file's and the other files' problems are only warnings here: refusing over
    them would stop the role from fixing a host one file at a time, and `config validate`
    without a candidate still names them."""
    from certkeeper.config.checker import Checker, load_yaml
    from certkeeper.config.load import read_keys
    from certkeeper.config.services import check_candidate

    path = config_file.absolute()
    chk = Checker(path)
    values = read_keys(chk, load_yaml(path))
    service, warnings = check_candidate(values["services_dir"], candidate, name)
    return Candidate(service.file, len(service.lineages), chk.problems + warnings)
