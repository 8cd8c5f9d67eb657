"""Which rule decides a renewal, ARI arithmetic, profiles and lifetime-scaled warnings:
pure functions, no clock, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certkeeper import ari, certbot, policy, state
from certkeeper.config import Config, Lineage, Service, load
from certkeeper.policy import AriWindow, Rule
from certkeeper.x509info import CertInfo
from support.run import service, write_config

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def cert(days_left: float, lifetime: float = 90, serial: int = 1) -> CertInfo:
    not_after = NOW + timedelta(days=days_left)
    return CertInfo(
        serial,
        not_after - timedelta(days=lifetime),
        not_after,
        "Test CA",
        ("a.example.com",),
        aki=bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4"),
    )


# ----------------------------------------------------------------- the rules


def test_configured_rule_for_a_90_day_certificate() -> None:
    plan = policy.renewal_plan(cert(60), 31, None, NOW)
    assert plan.rule is Rule.CONFIGURED
    assert plan.window_days == 31
    assert plan.next_at == NOW + timedelta(days=29)
    assert plan.describe() == "31 days (configured)"
    assert not plan.due(NOW)


@pytest.mark.parametrize(
    ("lifetime", "window", "text"),
    [
        (45, 15, "1/3 of 45 days (lifetime rule: the configured 31 days would renew at once)"),
        (6, 3, "1/2 of 6 days (lifetime rule: the configured 31 days would renew at once)"),
        (
            160 / 24,
            80 / 24,
            "1/2 of 6.7 days (lifetime rule: the configured 31 days would renew at once)",
        ),
    ],
)
def test_lifetime_rule_for_short_certificates(lifetime: float, window: float, text: str) -> None:
    fresh = cert(lifetime, lifetime=lifetime)
    plan = policy.renewal_plan(fresh, 31, None, NOW)
    assert plan.rule is Rule.LIFETIME
    assert plan.window_days == pytest.approx(window)
    assert plan.describe() == text
    assert not plan.due(NOW), "a fresh certificate is never due"
    assert policy.configured_days_ignored(fresh, 31)


def test_default_days_are_described_as_default() -> None:
    plan = policy.renewal_plan(cert(6, lifetime=6), 31, None, NOW)
    assert plan.describe(configured=False).startswith("1/2 of 6 days (lifetime rule: the default")


def test_an_earlier_ari_window_wins() -> None:
    window = AriWindow(NOW + 2 * DAY, NOW + 3 * DAY, NOW + 2 * DAY + 5 * HOUR)
    plan = policy.renewal_plan(cert(60), 31, window, NOW)
    assert plan.rule is Rule.ARI
    assert plan.next_at == window.selected_at
    assert plan.window_days == pytest.approx(60 - 2 - 5 / 24)
    assert plan.describe() == "ARI window 2026-11-28 03:00 to 2026-11-29 03:00 UTC"
    assert not plan.due(NOW)
    assert plan.due(window.selected_at + timedelta(seconds=1))
    assert policy.plan([None], cert(60), renewal_days=31, now=NOW, ari=window) is (
        policy.Action.NOTHING
    )
    later = window.selected_at + HOUR
    assert policy.plan([None], cert(60), renewal_days=31, now=later, ari=window) is (
        policy.Action.RENEW
    )


def test_a_later_ari_window_never_delays_what_the_team_rule_calls_due() -> None:
    window = AriWindow(NOW + 20 * DAY, NOW + 21 * DAY, NOW + 20 * DAY)
    plan = policy.renewal_plan(cert(20), 31, window, NOW)
    assert plan.rule is Rule.CONFIGURED
    assert plan.due(NOW)


def test_a_window_in_the_past_renews_at_once_even_inside_the_20_hour_guard() -> None:
    window = AriWindow(NOW - 2 * DAY, NOW - DAY, NOW - DAY - HOUR)
    plan = policy.renewal_plan(cert(85), 31, window, NOW)
    assert plan.rule is Rule.ARI and plan.ari_urgent and plan.due(NOW)
    assert policy.plan([None], cert(85), renewal_days=31, now=NOW, ari=window) is (
        policy.Action.RENEW
    )
    just_tried = NOW - HOUR
    assert policy.attempt_allowed(just_tried, None, NOW, False, ari_urgent=True) == (True, "")
    assert not policy.attempt_allowed(just_tried, None, NOW, False)[0]
    # The CA's own rate-limit back-off still holds.
    assert not policy.attempt_allowed(None, NOW + HOUR, NOW, False, ari_urgent=True)[0]


def test_status_rows_turn_due_by_ari() -> None:
    c = cert(60)
    window = AriWindow(NOW - 2 * HOUR, NOW + HOUR, NOW - HOUR)
    a = policy.assess(
        "a.example.com", policy.Observed(c, None, c), policy.Judging(False, 31, (7,)), NOW, window
    )
    assert a.state is policy.Health.DUE


def test_warning_names_service_days_and_lifetime() -> None:
    text = policy.ignored_window_warning("shop", "shop-cert", 31, cert(6, lifetime=6))
    assert text == (
        "service shop: certbot_renewal_days: 31 is not honoured for certificate shop-cert, "
        "whose lifetime is 6 days: a 31-day window would cover most or all of it and renew "
        "on every run, so 1/2 of the lifetime (3 days) is used instead"
    )
    assert policy.ignored_window_warning("shop", "shop", 31, cert(60)) is None


# ---------------------------------------------------- lifetime-scaled warnings

WARN = (30, 14, 7, 3, 1)


@pytest.mark.parametrize(
    ("lifetime", "kept"),
    [
        (timedelta(days=90), (30, 14, 7, 3, 1)),
        (timedelta(days=64), (30, 14, 7, 3, 1)),
        (timedelta(days=45), (14, 7, 3, 1)),
        (timedelta(hours=160), (3, 1)),
        (timedelta(days=6), (1,)),
    ],
)
def test_thresholds_scale_with_the_lifetime(lifetime: timedelta, kept: tuple[int, ...]) -> None:
    assert policy.scaled_warn_days(WARN, lifetime) == kept


def test_a_6_day_certificate_is_never_warned_on_issue() -> None:
    six = timedelta(days=6)
    for left in (6, 5, 4, 3, 2):
        assert policy.warning_threshold(left, WARN, [], six) == (None, set())
    assert policy.warning_threshold(1, WARN, [], six) == (1, {1})
    shortlived = timedelta(hours=160)
    assert policy.warning_threshold(6, WARN, [], shortlived)[0] is None
    assert policy.warning_threshold(3, WARN, [], shortlived)[0] == 3
    assert policy.warning_threshold(1, WARN, [3], shortlived)[0] == 1


# ------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("profile", "issued", "days", "drift"),
    [
        ("shortlived", NOW, 160 / 24, False),
        ("shortlived", NOW, 6, False),
        ("shortlived", NOW, 90, True),
        ("tlsserver", NOW, 45, False),
        ("tlsserver", NOW, 90, True),
        ("classic", NOW, 90, False),
        ("classic", datetime(2027, 3, 1, tzinfo=UTC), 64, False),
        ("classic", datetime(2027, 3, 1, tzinfo=UTC), 90, True),
        ("classic", datetime(2028, 3, 1, tzinfo=UTC), 45, False),
        ("someday", NOW, 90, False),
        (None, NOW, 90, False),
    ],
)
def test_profile_drift(profile: str | None, issued: datetime, days: float, drift: bool) -> None:
    note = policy.profile_drift(profile, issued, issued + timedelta(days=days))
    assert (note is not None) is drift
    if note:
        assert note.startswith(f"profile drift: profile {profile!r} gives")


def _cfg(tmp_path: Path, profile: str | None) -> tuple[Config, Service, Lineage]:
    svc = service("shop", "shop.example.com")
    if profile:
        svc["certbot_domains"][0]["profile"] = profile  # type: ignore[index]
    cfg = load(
        write_config(
            tmp_path,
            {"shop": svc},
            certbot={"command": ["/usr/bin/certbot"], "config_dir": str(tmp_path / "le")},
        )
    )
    return cfg, cfg.services[0], cfg.services[0].lineages[0]


def test_issue_argv_carries_the_profile(tmp_path: Path) -> None:
    cfg, svc, lin = _cfg(tmp_path, "shortlived")
    assert certbot.issue_argv(cfg, svc, lin) == [
        "/usr/bin/certbot", "certonly", "--webroot", "-w", "/var/www/letsencrypt",
        "-d", "shop.example.com", "--cert-name", "shop", "--agree-tos",
        "-m", "ops@example.com", "--preferred-profile", "shortlived",
        "--non-interactive", "--config-dir", str(tmp_path / "le"),
    ]  # fmt: skip


def test_renew_argv_adds_the_profile_only_when_the_renewal_conf_lacks_it(tmp_path: Path) -> None:
    cfg, _, lin = _cfg(tmp_path, "tlsserver")
    base = [
        "/usr/bin/certbot", "renew", "--cert-name", "shop", "--force-renewal",
        "--no-random-sleep-on-renew",
    ]  # fmt: skip
    common = ["--non-interactive", "--config-dir", str(tmp_path / "le")]
    assert certbot.renew_argv(cfg, lin) == [*base, "--preferred-profile", "tlsserver", *common]
    conf = tmp_path / "le" / "renewal" / "shop.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(RENEWAL_CONF)
    assert certbot.renew_argv(cfg, lin) == [*base, *common]
    conf.write_text(RENEWAL_CONF.replace("preferred_profile = tlsserver\n", ""))
    assert certbot.renew_argv(cfg, lin) == [*base, "--preferred-profile", "tlsserver", *common]
    cfg, _, plain = _cfg(tmp_path / "plain", None)
    assert "--preferred-profile" not in certbot.renew_argv(cfg, plain)


RENEWAL_CONF = """\
# renew_before_expiry = 30 days
version = 5.8.0
archive_dir = /etc/letsencrypt/archive/shop
cert = /etc/letsencrypt/live/shop/cert.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef
server = https://acme-v02.api.letsencrypt.org/directory
authenticator = webroot
preferred_profile = tlsserver
webroot_path = /var/www/letsencrypt,
[[webroot_map]]
server = https://not-this-one.example/
shop.example.com = /var/www/letsencrypt
[acme_renewal_info]
ari_retry_after = 2026-11-26T09:00:00
"""


def test_renewal_conf_reader(tmp_path: Path) -> None:
    (tmp_path / "renewal").mkdir()
    (tmp_path / "renewal" / "shop.conf").write_text(RENEWAL_CONF)
    params = certbot.read_renewalparams(tmp_path, "shop")
    assert params["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert params["preferred_profile"] == "tlsserver"
    assert "shop.example.com" not in params and "ari_retry_after" not in params
    assert ari.directory_of(tmp_path, "shop") == params["server"]
    assert certbot.read_renewalparams(tmp_path, "missing") == {}


# ------------------------------------------------------------------------ ARI


def test_certificate_id_is_rfc_9773s_example() -> None:
    # RFC 9773 section 4.1: AKI 69:88:5B:..:D4 and serial 0x0087654321.
    assert ari.cert_id(cert(60, serial=0x87654321)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert ari.der_serial(0x7F) == b"\x7f"
    assert ari.der_serial(0x80) == b"\x00\x80"
    no_aki = CertInfo(1, NOW, NOW + DAY, "x", ())
    assert ari.cert_id(no_aki) is None


def test_retry_after_is_held_within_rfc_limits() -> None:
    assert ari.retry_after("21600", NOW) == NOW + 6 * HOUR
    assert ari.retry_after("1", NOW) == NOW + timedelta(minutes=1)
    assert ari.retry_after("99999999999999999999", NOW) == NOW + DAY
    assert ari.retry_after("Thu, 26 Nov 2026 05:00:00 GMT", NOW) == NOW + 2 * HOUR
    assert ari.retry_after("soon", NOW) == NOW + 6 * HOUR
    assert ari.retry_after(None, NOW) == NOW + 6 * HOUR


def test_renewal_info_is_parsed() -> None:
    body = (
        b'{"suggestedWindow": {"start": "2026-12-01T00:00:00.123456789Z",'
        b' "end": "2026-12-02T01:00:00+01:00"}, "explanationURL": "https://ca.example/why"}'
    )
    got = ari.parse_renewal_info(body, "u", "3600", NOW)
    assert got.start == datetime(2026, 12, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert got.end == datetime(2026, 12, 2, tzinfo=UTC)
    assert got.retry_after == NOW + HOUR
    assert got.explanation_url == "https://ca.example/why"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"suggestedWindow": 1}', "no suggestedWindow object"),
        (b'{"suggestedWindow": {"start": "x", "end": "y"}}', "not an RFC 3339 time"),
        (
            b'{"suggestedWindow": {"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00"}}',
            "has no time zone",
        ),
        (
            b'{"suggestedWindow": {"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}}',
            "ends before it starts",
        ),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_hostile_answers_raise_only_ari_error(body: bytes, message: str) -> None:
    with pytest.raises(ari.AriError, match=message):
        ari.parse_renewal_info(body, "u", None, NOW)


def test_the_moment_chosen_in_a_window_is_kept_while_the_window_stands() -> None:
    s = ari.Suggestion(NOW, NOW + 6 * HOUR, NOW + HOUR, None)
    first = ari.remember(s, "id", None, NOW)
    assert s.start <= first.selected_at <= s.end
    again = ari.remember(s, "id", first, NOW + HOUR)
    assert again.selected_at == first.selected_at and again.fetched_at == NOW + HOUR
    moved = ari.Suggestion(NOW - 2 * DAY, NOW - DAY, NOW + HOUR, None)
    drill = ari.remember(moved, "id", first, NOW + HOUR)
    assert moved.start <= drill.selected_at <= moved.end
    window = ari.window_for(drill, cert(60))
    assert window is None, "a record for another certificate ID is never used"


def test_a_malformed_cached_window_is_ignored(tmp_path: Path) -> None:
    good = ari.remember(ari.Suggestion(NOW, NOW + HOUR, NOW + HOUR, None), "id", None, NOW)
    for bad in (
        "nonsense",
        {"cert_id": "id"},
        dict(good.to_json(), start="yesterday"),
        dict(good.to_json(), start=good.to_json()["end"], end=good.to_json()["start"]),
        dict(good.to_json(), selected_at="2000-01-01T00:00:00Z"),
        dict(good.to_json(), cert_id=7),
    ):
        assert state.AriRecord.from_json(bad) is None
    (tmp_path / "state.json").write_text(
        '{"version": 1, "certs": {"shop": {"ari": {"cert_id": "x", "start": 3}}}}'
    )
    st = state.load(tmp_path, NOW)
    assert st.cert("shop").ari is None and not st.warnings
    assert state.AriRecord.from_json(good.to_json()) == good


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/dir",
        "https://127.0.0.1:notaport/dir",
        "https:///dir",
        "https://127.0.0.1:1/a\r\nX-Injected: 1",
        "https://" + "\u2603" * 70 + ".example/dir",
        "https://a b/x",  # http.client refuses the host as it builds the connection
    ],
)
def test_a_hostile_url_is_an_ari_error(url: str) -> None:
    with pytest.raises(ari.AriError):
        ari.fetch(url, "ident", ca_file=None, timeout=2, now=NOW)
