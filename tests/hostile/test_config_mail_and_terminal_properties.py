"""Property tests on arbitrary input: the config loader, the notices, the terminal.

The config loader, message composition and the terminal escaping never raise anything
but certkeeper's own error (or the ValueError compose documents), never emit a header
with CR/LF, and never let a control character through.
"""

from __future__ import annotations

import contextlib
import email
import tempfile
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkeeper import config, proc, terminal
from certkeeper.errors import ConfigError
from certkeeper.notify.compose import compose
from certkeeper.notify.events import Expiring, Failed, Renewed

# ------------------------------------------------------------------ config loader

_KEYS = [
    "hostname", "services_dir", "state_dir", "lock_file", "jitter_seconds", "certbot", "nginx",
    "probe", "notify", "command", "extra_args", "timeout_seconds", "to", "smtp", "port",
    "certbot_enabled", "certbot_email", "certbot_domains", "certbot_services", "domains",
    "cert_name", "webroot", "name", "cert_source", "certbot_renewal_days", "password_file",
]  # fmt: skip
_SCALARS = st.one_of(
    st.text(max_size=30).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(
        ["null", "true", "~", "-1", "0", "1e999", ".nan", "2099-01-01", "&a x", "*a", "!!binary AA==",
         "!!python/object:os.system x", "[", "{", "? x", "|", ">", "'", "0x10", "shop\\n"]
    ),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
)  # fmt: skip


@st.composite
def yamlish(draw: st.DrawFn, depth: int = 0) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        indent = "  " * draw(st.integers(0, depth))
        key = draw(st.one_of(st.sampled_from(_KEYS), st.text(max_size=8)))
        if depth < 2 and draw(st.booleans()):
            nested = draw(yamlish(depth + 1))
            lines.append(f"{indent}{key}:\n" + "\n".join("  " + n for n in nested.splitlines()))
        elif draw(st.booleans()):
            items = draw(st.lists(_SCALARS, max_size=3))
            lines.append(f"{indent}{key}: [{', '.join(items)}]")
        else:
            lines.append(f"{indent}{key}: {draw(_SCALARS)}")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\x00", "\ufeff"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(main=yamlish(), svc=st.one_of(yamlish(), st.binary(max_size=200).map(repr)))
def test_config_loader_raises_only_config_error(main: str, svc: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "services.d").mkdir()
        (root / "config.yaml").write_text(
            "services_dir: services.d\nstate_dir: state\n" + main,
            encoding="utf-8",
            errors="surrogateescape",
        )
        (root / "services.d" / "x.yaml").write_text(svc, encoding="utf-8", errors="surrogatepass")
        try:
            config.load(root / "config.yaml")
        except ConfigError as exc:
            assert exc.problems
            for problem in exc.problems:
                # The problem lines are quoted short; what is not ours is escaped on show.
                assert terminal.line(problem).count("\n") == 0


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_config_loader_on_arbitrary_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            config.load(path)


# ------------------------------------------------------------------- composition

_AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
_TEXT = st.text(max_size=40)


@st.composite
def events(draw: st.DrawFn) -> Renewed | Failed | Expiring:
    cert_name, output = draw(_TEXT), draw(_TEXT)
    domains = tuple(draw(st.lists(_TEXT, min_size=1, max_size=3)))
    return draw(
        st.sampled_from(
            [
                Failed(cert_name, domains, _AT, _AT, "certbot", output),
                Renewed(cert_name, domains, _AT, None, _AT, _AT, notes=(output,)),
                Expiring(cert_name, domains, _AT, _AT, 14, False, last_error=output),
            ]
        )
    )


@settings(max_examples=300, deadline=None)
@given(event=events(), hostname=_TEXT, sender=_TEXT, to=_TEXT)
def test_composed_message_never_has_a_header_with_cr_or_lf(
    event: Renewed | Failed | Expiring, hostname: str, sender: str, to: str
) -> None:
    try:
        msg = compose(event, hostname=hostname, sender=sender, to=to)
        raw = msg.as_bytes()
    except ValueError:
        return  # compose refuses a control character in a header value, loudly
    for name, value in msg.items():
        assert "\r" not in str(value) and "\n" not in str(value), (name, value)
    parsed = email.message_from_bytes(raw, policy=default)
    # Nothing in a value became a header of its own.
    assert sorted(k.lower() for k in parsed) == sorted(k.lower() for k in msg.keys())  # noqa: SIM118


# ---------------------------------------------------------------------- escaping


@given(st.text())
def test_escaped_line_holds_no_control_or_invisible_character(text: str) -> None:
    shown = terminal.line(text)
    assert not any(terminal.unsafe(ch) for ch in shown)
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
    assert terminal.line(shown) == shown  # escaping twice changes nothing


@given(st.text())
def test_escaped_block_keeps_only_our_line_breaks(text: str) -> None:
    shown = terminal.lines(text)
    assert shown.count("\n") == text.count("\n")
    assert not any(terminal.unsafe(ch) for ch in shown.replace("\n", ""))


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_printable_ascii_is_shown_unchanged(text: str) -> None:
    assert terminal.line(text) == text


# ----------------------------------------------------------------------- masking

_FLAGS = st.sampled_from(
    ["--eab-hmac-key", "--api-token", "--db-password", "--client-secret", "--KEY", "--x-passwd"]
)


@given(
    before=st.lists(st.sampled_from(["--non-interactive", "-d", "a.example", "--key-type", "rsa"])),
    flag=_FLAGS,
    secret=st.text(min_size=4, max_size=30).filter(lambda s: s.strip() == s and "*" not in s),
    equals=st.booleans(),
)
def test_secret_flag_values_never_survive_masking(
    before: list[str], flag: str, secret: str, equals: bool
) -> None:
    argv = [*before, f"{flag}={secret}"] if equals else [*before, flag, secret]
    masked = proc.mask_argv(argv)
    assert secret not in masked and not any(secret in arg for arg in masked[len(before) :])
    assert proc.redact(f"certbot said: {secret}!", argv) == f"certbot said: {proc.MASK}!"
