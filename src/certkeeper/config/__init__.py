"""Load and validate the global config and the per-service group_vars files.

keys.py is the one table of keys (type, bounds, default, doc); checker.py reads a YAML
file safely and checks values against it; load.py reads the global file, services.py the
service files; model.py holds the frozen result; show.py prints it and the README table.
"""

from certkeeper.config.checker import MAX_YAML_BYTES, MAX_YAML_NODES, SHOW_CHARS, load_yaml
from certkeeper.config.keys import (
    DEFAULT_WEBROOT,
    METRICS_AUTO,
    MODES,
    NODE_EXPORTER_TEXTFILE,
    SECURITY_MODES,
)
from certkeeper.config.load import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    config_path,
    default_hostname,
    load,
)
from certkeeper.config.model import (
    AriSettings,
    CertbotSettings,
    Config,
    Lineage,
    Link,
    Mistake,
    NginxSettings,
    NotifySettings,
    ProbeSettings,
    Service,
    SmtpSettings,
)
from certkeeper.config.services import CRON_PREFIXES, load_service, load_services, select
from certkeeper.config.show import as_dict

__all__ = [
    "CONFIG_ENV",
    "CRON_PREFIXES",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_WEBROOT",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "METRICS_AUTO",
    "MODES",
    "NODE_EXPORTER_TEXTFILE",
    "SECURITY_MODES",
    "SHOW_CHARS",
    "AriSettings",
    "CertbotSettings",
    "Config",
    "Lineage",
    "Link",
    "Mistake",
    "NginxSettings",
    "NotifySettings",
    "ProbeSettings",
    "Service",
    "SmtpSettings",
    "as_dict",
    "config_path",
    "default_hostname",
    "load",
    "load_service",
    "load_services",
    "load_yaml",
    "select",
]
