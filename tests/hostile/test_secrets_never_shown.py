"""Secrets in argv and in files are never echoed.

certbot.extra_args may carry an EAB HMAC key; a service file may be a symlink to a
password file. The user sees the problem, never the secret: not on stderr (with -v the
log lines go there too), not in the ERROR notice, not in `config show`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.hostile import calls, host, no_traceback, notice_text, outbox
from support.run import certkeeper

HMAC = "c2VjcmV0LWhtYWMta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFr"
# certbot complains about its own arguments, quoting them, as argparse does.
ECHO_ARGV = 'echo "certbot: error: unrecognized arguments: $*" >&2\nexit 2\n'

SECRET_FORMS = [
    ("eab hmac key, two args", ["--eab-kid", "kid-1", "--eab-hmac-key", HMAC]),
    ("eab hmac key, = form", ["--eab-kid", "kid-1", f"--eab-hmac-key={HMAC}"]),
    ("key starting with a dash", ["--eab-hmac-key", f"-{HMAC}"]),
    ("any *token* flag", ["--dns-api-token", HMAC]),
    ("any *password* flag", [f"--some-plugin-password={HMAC}"]),
    ("any *secret* flag", ["--client-secret", HMAC]),
]


@pytest.mark.parametrize(("what", "extra"), SECRET_FORMS, ids=[s[0] for s in SECRET_FORMS])
def test_secret_in_extra_args_reaches_no_output_log_or_notice(
    tmp_path: Path, what: str, extra: list[str]
) -> None:
    cfg = host(tmp_path, ECHO_ARGV, extra_args=extra)
    proc = certkeeper(cfg, "--verbose", "check", "--no-jitter")
    no_traceback(proc)
    assert proc.returncode == 1
    assert HMAC in calls(tmp_path)[0]  # certbot itself did get the key
    assert "ERROR: shop: certbot failed" in proc.stderr
    assert HMAC not in proc.stdout + proc.stderr
    assert "********" in proc.stderr  # the log line shows where the masked value was
    notices = outbox(tmp_path)
    assert len(notices) == 1
    assert HMAC not in notice_text(notices[0])
    assert HMAC.encode() not in notices[0]
    assert "unrecognized arguments" in notice_text(notices[0])


def test_config_show_masks_extra_args_but_keeps_non_secret_flags(tmp_path: Path) -> None:
    extra = ["--eab-kid", "kid-1", "--eab-hmac-key", HMAC, "--key-type", "ecdsa", "--reuse-key"]
    cfg = host(tmp_path, extra_args=extra)
    proc = certkeeper(cfg, "config", "show")
    assert proc.returncode == 0
    assert HMAC not in proc.stdout
    for visible in ("kid-1", "--key-type", "ecdsa", "--reuse-key", "--eab-hmac-key"):
        assert visible in proc.stdout


def test_key_type_and_size_stay_readable_in_logs(tmp_path: Path) -> None:
    extra = ["--key-type", "rsa", "--rsa-key-size", "4096", "--reuse-key", "--force-interactive"]
    cfg = host(tmp_path, ECHO_ARGV, extra_args=extra)
    proc = certkeeper(cfg, "--verbose", "check", "--no-jitter")
    no_traceback(proc)
    assert (
        "'--key-type', 'rsa', '--rsa-key-size', '4096', '--reuse-key', '--force-interactive'"
        in (proc.stderr)
    )


def test_bad_extra_args_are_quoted_masked_in_the_config_error(tmp_path: Path) -> None:
    cfg = host(tmp_path, extra_args=["--eab-hmac-key", HMAC, "bad\nvalue"])
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 2
    assert "certbot.extra_args" in proc.stderr
    assert HMAC not in proc.stderr
    no_traceback(proc)


@pytest.mark.parametrize(
    "secret",
    ["hunter2-correct-horse-battery", "- just one list item secret", "{not: closed"],
    ids=["string", "list", "broken yaml"],
)
def test_service_file_symlinked_to_a_secret_is_not_echoed(tmp_path: Path, secret: str) -> None:
    cfg = host(tmp_path, services={})
    password = tmp_path / "smtp-password"
    password.write_text(secret + "\n")
    (tmp_path / "services.d" / "x.yaml").symlink_to(password)
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line]
    assert len(lines) == 1 and "x.yaml" in lines[0], lines
    assert secret not in proc.stderr
    assert secret.split()[-1] not in proc.stderr
    no_traceback(proc)


def test_long_bad_value_is_quoted_as_a_short_prefix(tmp_path: Path) -> None:
    cfg = host(tmp_path)
    text = cfg.read_text().replace("jitter_seconds: 0", "jitter_seconds: " + "A" * 200 + "TAIL")
    cfg.write_text(text)
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 2
    assert "jitter_seconds = 'AAAA" in proc.stderr and "..." in proc.stderr
    assert "TAIL" not in proc.stderr
