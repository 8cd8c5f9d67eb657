"""Every config key, written down once: name, type, bounds, default and a one-line doc.

The loader's defaults, its known-key lists and bounds, the model's defaults, `config show`
and the README's key table are all read from these tables, so a key cannot be added,
renamed or re-defaulted in one place and forgotten in another. Like borgmatic's schema,
but plain Python: no jsonschema at runtime, and the checks keep certkeeper's own
one-line messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from certkeeper import names
from certkeeper.value import Value

# How a key's value is read and checked (checker.py has one reader per kind):
#   int      a whole number from lo to hi
#   seconds  a number above 0 and at most hi
#   bool     true or false
#   text     a string passed through `check`; null means the default
#   choice   one of `choices`; null means the default
#   path     a file system path relative to the file's folder; null means the default
#   secret   a path to a file holding a secret: must not be world-readable; never shown.
#            A bad one is a mistake, not a refusal: only what uses the secret waits
#   metrics  a path, or `auto` (node_exporter's textfile folder when it exists)
#   argv     a non-empty list: program, arguments
#   args     a list of arguments, possibly empty
#   days     a list of whole days from lo to hi, kept sorted, largest first
#   entries  a list of mappings, each checked against `items`
#   domains  a non-empty list of DNS names
Kind = Literal[
    "int",
    "seconds",
    "bool",
    "text",
    "choice",
    "path",
    "secret",
    "metrics",
    "argv",
    "args",
    "days",
    "entries",
    "domains",
]


class Key(Value):
    path: str  # dotted, as the YAML nests it: notify.smtp.port
    kind: Kind
    default: Any
    doc: str  # one line of Markdown: the README's "meaning" cell
    lo: int = 0
    hi: float = 0
    check: Callable[[str], str] = names.plain_text  # for text
    choices: tuple[str, ...] = ()  # for choice
    attr: str = ""  # the model's field, when not the key's own name; "-": not kept
    shown: str = ""  # the README's default cell, when the bare default would mislead
    required: bool = False  # missing or null is a problem
    expect: str = ""  # what to expect when required and missing, or for entries, a list
    masked: bool = False  # argv that may hold secrets: shown through proc.mask_argv
    owner_only: bool = False  # secret: group-readable is refused too (the file is 0600)
    items: tuple[Key, ...] = ()  # for entries: the keys of one entry

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def section(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def field(self) -> str:
        return self.attr or self.name


# Bounds shared by several keys.
PORT = (1, 65535)
DAY_SECONDS = 86400

# node_exporter's textfile collector folder as Debian's prometheus-node-exporter sets it up.
NODE_EXPORTER_TEXTFILE = Path("/var/lib/prometheus/node-exporter/certkeeper.prom")
METRICS_AUTO = "auto"
SECURITY_MODES = ("none", "starttls", "tls")
# shadow: decide and say, change nothing. Unset means active, so a config written before
# the key existed keeps renewing; the package's own config.yaml says shadow.
MODES = ("shadow", "active")
DEFAULT_WEBROOT = Path("/var/www/letsencrypt")

# The global file, in the order of the README's table, `config show` and the known-key
# lists of error messages. metrics_file and mode come last because they were added last,
# and the known-key list users have seen in messages keeps its order.
GLOBAL_KEYS: tuple[Key, ...] = (
    Key("hostname", "text", None, "name in notice subjects", check=names.host_name,
        shown="short host name"),
    Key("services_dir", "path", Path("/etc/certkeeper/services.d"), "one YAML file per service"),
    Key("state_dir", "path", Path("/var/lib/certkeeper"),
        "`state.json`, `outbox/` and `certinfo-cache.json`"),
    Key("lock_file", "path", Path("/run/lock/certkeeper.lock"),
        "host-wide lock (flock on a file certkeeper owns, opened without following symlinks;"
        " the holder's pid is written in it). Its directory must not be writable by others,"
        " except a root-owned sticky one like `/run/lock`"),
    Key("lock_timeout_seconds", "seconds", 900.0,
        "how long a second run waits for the lock before exiting 1", hi=DAY_SECONDS),
    Key("jitter_seconds", "int", 900,
        "random 0..N s sleep before a cron run; skipped with `--no-jitter`, with `--dry-run`"
        " and on a terminal", lo=0, hi=DAY_SECONDS),
    Key("certbot.command", "argv", ("certbot",), "argv prefix"),
    Key("certbot.config_dir", "path", Path("/etc/letsencrypt"),
        "passed as `--config-dir`; `live/<cert_name>/` is read from here"),
    Key("certbot.extra_args", "args", (),
        "appended to every certbot call, e.g. `[--server, URL, --work-dir, DIR, --logs-dir,"
        " DIR]`; secret values are masked wherever argv is shown (see below)", masked=True),
    Key("certbot.timeout_seconds", "seconds", 600.0,
        "a longer certbot run is killed with everything it started, `setsid` children"
        " included: ERROR", hi=DAY_SECONDS),
    Key("nginx.test_command", "argv", ("nginx", "-t"), "must pass before any reload"),
    Key("nginx.reload_command", "argv", ("systemctl", "reload", "nginx"),
        "run only after the test command passed; a TLS probe then proves the new certificate"
        " is served"),
    Key("nginx.certs_dir", "path", Path("/etc/nginx/certs"),
        "where the `<service>.*` symlinks go"),
    Key("nginx.timeout_seconds", "seconds", 60.0,
        "for each of the test and reload commands; one still running then is killed with"
        " everything it started: ERROR (a test that timed out means no reload)", hi=3600),
    Key("probe.port", "int", 443, "where nginx serves TLS; the probe connects there",
        lo=PORT[0], hi=PORT[1]),
    Key("probe.http_port", "int", 80,
        "where this host's nginx serves `/.well-known/acme-challenge/` over plain HTTP;"
        " `doctor` fetches its test token there (and there on the address DNS gives). Only a"
        " port-mapped or test nginx needs another", lo=PORT[0], hi=PORT[1]),
    Key("probe.connect_host", "text", "local",
        "`local`: this host's nginx at 127.0.0.1, by SNI; `dns`: follow public DNS (opt-in;"
        " on a pair of hosts it may reach the other one); or a host name or address (e.g. the"
        " one address nginx listens on). `null`, the old default, now means `local`",
        check=names.probe_host),
    Key("probe.timeout_seconds", "seconds", 10.0,
        "for the TCP connect and, separately, the TLS handshake", hi=300),
    # 128 puts a typical host's names in one wave at 50 ms RTT and costs nothing
    # measurable on loopback (docs/benchmarks.md, row 10).
    Key("probe.concurrency", "int", 128,
        "probes at once (1–256). A probe mostly waits on round trips, so this is sized for"
        " the network: 128 puts a typical host's names in one wave. See"
        " [How fast](#how-fast)", lo=1, hi=256),
    Key("notify.to", "text", None,
        "the board's address; unset means no e-mail (`config validate` says so)",
        check=names.email_address),
    Key("notify.from", "text", None, "the sender of every notice", check=names.email_address,
        attr="sender", shown="`certkeeper@<hostname>`"),
    Key("notify.warn_days", "days", (30, 14, 7, 3, 1),
        "WARNING thresholds, each sent once per certificate; scaled down for short lifetimes"
        " (see [warnings](#warnings-that-scale-with-the-lifetime))", lo=1, hi=365),
    Key("notify.smtp.host", "text", "localhost", "the SMTP server notices go through",
        check=names.host_or_address),
    Key("notify.smtp.port", "int", 25, "its port; usually 465 with `security: tls`",
        lo=PORT[0], hi=PORT[1]),
    Key("notify.smtp.security", "choice", "none",
        "`none`, `starttls` or `tls` (implicit TLS, usually port 465)", choices=SECURITY_MODES),
    Key("notify.smtp.username", "text", None, "AUTH is used when set"),
    Key("notify.smtp.password_file", "secret", None,
        "a file holding only the password; refused if world-readable"),
    Key("notify.smtp.timeout_seconds", "seconds", 30.0,
        "the deadline for the **whole** exchange of one notice, connect to QUIT (a server"
        " trickling bytes cannot stretch it)", hi=600),
    # The webhook channel (notify/channels/webhook.py). URL and headers carry tokens, so
    # both live in files only their owner reads, never inline in config.yaml (0644).
    Key("notify.webhook.url_file", "secret", None, owner_only=True,
        doc="a file holding the webhook URL (Slack, Mattermost, ntfy...); unset: no webhook."
        " Readable by its owner only (0600): the URL is a secret, masked wherever shown"),
    Key("notify.webhook.headers_file", "secret", None, owner_only=True,
        doc="optional file of `Name: value` lines sent with every POST (e.g. an"
        " `Authorization` header); 0600 like `url_file`; values are never shown"),
    Key("notify.webhook.timeout_seconds", "seconds", 10.0, hi=120,
        doc="the deadline for the **whole** POST of one notice: connect, TLS, status line,"
        " headers and body"),
    Key("ari.enabled", "bool", True,
        "ask the CA for its renewal window ([ARI](#ari-the-cas-own-window), RFC 9773)"),
    Key("ari.ca_file", "path", None,
        "PEM bundle trusted for the ARI request; `null`: the system CA store. Set it for a"
        " private or test CA (pebble's)"),
    Key("ari.timeout_seconds", "seconds", 10.0,
        "for the whole ARI exchange (directory + renewalInfo); on timeout the team's rule"
        " decides", hi=120),
    Key("ca.caa_identity", "text", "letsencrypt.org",
        "the CA's CAA identity (RFC 8659): `doctor`, and `check` before a first issuance,"
        " refuse names whose CAA records do not allow it", check=names.host_name),
    Key("dns.nameserver", "text", None,
        "`ADDR[:PORT]` of the DNS server asked for CAA records; `null`: the system's"
        " resolver. `doctor --nameserver` overrides it", check=names.nameserver),
    Key("dns.timeout_seconds", "seconds", 5.0,
        "for the whole CAA lookup of one name, its parents included; a lookup that times out"
        " never blocks a renewal", hi=60),
    Key("metrics_file", "metrics", None,
        "Prometheus metrics that every `check` rewrites (atomically, mode 0644); `auto`:"
        " `/var/lib/prometheus/node-exporter/certkeeper.prom` when that folder exists, else"
        " none; see [Fleet](#fleet)", shown="`null` (the package's config: `auto`)"),
    Key("mode", "choice", "active",
        "`shadow`: `check` decides and says what it would do but never runs certbot, links,"
        " reloads or sends, and the deploy hook does nothing; `active`: it renews. See"
        " [docs/rollout.md](docs/rollout.md)", choices=MODES,
        shown="`active` (the package's config: `shadow`)"),
)  # fmt: skip

# One certbot_domains entry of a service file.
LINEAGE_KEYS: tuple[Key, ...] = (
    Key("domains", "domains", None, "the names of one certificate",
        required=True,
        expect="a non-empty list of DNS names"),
    Key("webroot", "path", DEFAULT_WEBROOT, "where certbot puts the HTTP-01 challenge files"),
    Key("cert_name", "text", None, "certbot's lineage: `live/<cert_name>/`",
        check=names.path_component, required=True,
        expect="the certbot lineage name, e.g. foxycart-sandbox"),
    Key("profile", "text", None, "ACME profile: classic, tlsserver, shortlived",
        check=names.acme_profile),
)  # fmt: skip

# One certbot_services entry: the nginx symlinks.
LINK_KEYS: tuple[Key, ...] = (
    Key("name", "text", None, "symlinks `<certs_dir>/<name>.{fullchain.crt,ca-bundle.crt,key}`",
        check=names.path_component, required=True,
        expect="the nginx symlink prefix, e.g. foxycart-sandbox"),
    Key("cert_source", "text", None, "a cert_name of this file", check=names.path_component,
        required=True,
        expect="the cert_name whose files nginx uses"),
)  # fmt: skip

# A service file: the team's Ansible group_vars (only certbot_* keys are ours).
SERVICE_KEYS: tuple[Key, ...] = (
    Key("certbot_enabled", "bool", True, "false: monitor only, never renewed", attr="enabled"),
    Key("certbot_email", "text", None, "ACME account; required when enabled",
        check=names.email_address, attr="email"),
    Key("certbot_install_method", "text", None, "accepted for parity, not used", attr="-"),
    Key("certbot_renewal_days", "int", 31, "renew when fewer days are left", lo=1, hi=365,
        attr="renewal_days"),
    Key("certbot_domains", "entries", (), "the certificates", attr="lineages",
        required=True,
        expect="a list of {domains, webroot, cert_name} entries", items=LINEAGE_KEYS),
    Key("certbot_services", "entries", (), "the nginx symlinks", attr="links",
        expect="a list of {name, cert_source} entries", items=LINK_KEYS),
)  # fmt: skip


def in_section(section: str) -> tuple[Key, ...]:
    """The global keys directly in one section ("" is the top level)."""
    return tuple(key for key in GLOBAL_KEYS if key.section == section)


def children(section: str, table: Iterable[Key] = GLOBAL_KEYS) -> tuple[str, ...]:
    """The names a section may hold, keys and sub-sections alike, in table order."""
    prefix = f"{section}." if section else ""
    found: dict[str, None] = {}
    for key in table:
        if key.path.startswith(prefix):
            found[key.path[len(prefix) :].split(".")[0]] = None
    return tuple(found)
