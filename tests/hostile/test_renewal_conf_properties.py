"""certbot's renewal conf is outside input: whatever bytes it holds, the small reader of it
never raises, never blocks, and gives back only single-line text; a conf as certbot writes
it reads back exactly."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper import ari, certbot

KEY = st.from_regex(r"[A-Za-z0-9_]{1,30}", fullmatch=True)
# A value as configobj writes one: a single line, no surrounding blanks.
VALUE = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=80,
).map(str.strip)
DOMAIN = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){1,3}", fullmatch=True)
HOSTILE_LINES = st.sampled_from(
    [
        "[renewalparams]",
        "[[webroot_map]]",
        "[ renewalparams ]]]",
        "[[[[",
        "]]",
        "server = https://acme.example/dir",
        "server=",
        "= = =",
        "preferred_profile = \x1b[31mred",
        "webroot_path = /var/www/x,",
        "shop.example.test = /srv/\x00nul",
        "\ufeff[renewalparams]",
        "key = " + "x" * 5000,
        "\u0661\u0662 = arabic digits",
        "[\u202erenewalparams]",
    ]
)
CONF = st.one_of(
    st.binary(max_size=4096),
    st.lists(st.one_of(HOSTILE_LINES, st.text(max_size=60)), max_size=40).map(
        lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")
    ),
)


@contextlib.contextmanager
def written(raw: bytes) -> Iterator[Path]:
    """A certbot config dir whose renewal conf for `shop` holds `raw`."""
    with tempfile.TemporaryDirectory(prefix="ck-conf-") as folder:
        config_dir = Path(folder)
        (config_dir / "renewal").mkdir()
        (config_dir / "renewal" / "shop.conf").write_bytes(raw)
        yield config_dir


def single_line_text(found: dict[str, str]) -> bool:
    return all(
        isinstance(k, str) and isinstance(v, str) and "\n" not in k + v and "\r" not in k + v
        for k, v in found.items()
    )


@settings(max_examples=300, deadline=None)
@given(CONF)
def test_any_bytes_in_a_renewal_conf_read_without_raising(raw: bytes) -> None:
    with written(raw) as config_dir:
        params = certbot.read_renewalparams(config_dir, "shop")
        roots = certbot.read_webroot_map(config_dir, "shop")
        problem = certbot.renewal_conf_problem(config_dir, "shop")
        server = ari.directory_of(config_dir, "shop")
    assert single_line_text(params) and single_line_text(roots)
    assert problem is None  # a regular file, within the cap: readable
    assert server is None or server.startswith("https://")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(KEY, VALUE, max_size=8),
    st.dictionaries(DOMAIN, VALUE.filter(lambda v: v != ""), max_size=4),
)
def test_a_conf_as_certbot_writes_it_reads_back_exactly(
    params: dict[str, str], roots: dict[str, str]
) -> None:
    lines = ["# renew_before_expiry = 30 days", "version = 2.11.0", "archive_dir = /x", ""]
    lines += ["[renewalparams]", *(f"{k} = {v}" for k, v in params.items())]
    lines += ["[[webroot_map]]", *(f"{d} = {root}" for d, root in roots.items())]
    with written("\n".join(lines).encode()) as config_dir:
        assert certbot.read_renewalparams(config_dir, "shop") == params
        assert certbot.read_webroot_map(config_dir, "shop") == roots


def test_a_conf_beyond_the_cap_is_a_problem_not_a_read() -> None:
    big = b"[renewalparams]\nserver = https://a.example/\n" + b"#" * certbot.MAX_RENEWAL_CONF_BYTES
    with written(big) as config_dir:
        problem = certbot.renewal_conf_problem(config_dir, "shop")
        params = certbot.read_renewalparams(config_dir, "shop")
    assert problem is not None and "renewal conf" in problem
    assert params == {}
