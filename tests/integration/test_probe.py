"""The TLS probe against real servers on loopback: every finding is read, every wait bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import trustme

from certkeeper.probe import Target, probe, probe_many
from support.tls import Blackhole, Garbage, SNIServer, leaf


@pytest.fixture
def sni(ca: trustme.CA) -> Iterator[SNIServer]:
    other_ca = trustme.CA()
    certs = {
        "valid.example.com": leaf(ca, "valid.example.com", days_left=60),
        "soon.example.com": leaf(ca, "soon.example.com", days_left=3),
        "expired.example.com": leaf(ca, "expired.example.com", days_left=-2),
        "wrong.example.com": leaf(ca, "something-else.example.com", days_left=60),
        "selfish.example.com": other_ca.issue_cert("selfish.example.com"),
    }
    server = SNIServer(certs, default=leaf(ca, "default.example.com")).start()
    yield server
    server.stop()


def test_reads_the_certificate_chosen_by_sni(sni: SNIServer) -> None:
    result = probe(Target("soon.example.com", "127.0.0.1", sni.port), timeout=3)
    assert result.error is None and result.cert is not None
    assert result.cert.sans == ("soon.example.com",)
    assert result.covered is True
    other = probe(Target("valid.example.com", "127.0.0.1", sni.port), timeout=3)
    assert other.cert is not None and other.cert.serial != result.cert.serial


def test_expired_untrusted_and_wrong_name_are_findings_not_failures(sni: SNIServer) -> None:
    expired = probe(Target("expired.example.com", "127.0.0.1", sni.port), timeout=3)
    assert expired.error is None and expired.cert is not None
    assert expired.trusted is False and expired.verify_error
    wrong = probe(Target("wrong.example.com", "127.0.0.1", sni.port), timeout=3)
    assert wrong.cert is not None and wrong.covered is False
    selfish = probe(Target("selfish.example.com", "127.0.0.1", sni.port), timeout=3)
    assert selfish.cert is not None and selfish.trusted is False


def test_trusted_when_the_system_trusts_the_chain(ca: trustme.CA, sni: SNIServer) -> None:
    # OpenSSL reads SSL_CERT_FILE when a process builds its default context, so a fresh
    # process with the test CA as its system store sees the chain as trusted.
    import subprocess
    import sys

    with ca.cert_pem.tempfile() as bundle:
        code = (
            "from certkeeper.probe import Target, probe;"
            f"r = probe(Target('valid.example.com', '127.0.0.1', {sni.port}), 3);"
            "print(r.trusted)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={"SSL_CERT_FILE": bundle, "PATH": "/usr/bin:/bin"},
            timeout=30,
        )
    assert out.stdout.strip() == "True", out.stderr


def test_blackhole_gives_up_after_the_timeout(blackhole: Blackhole) -> None:
    started = time.monotonic()
    result = probe(Target("dead.example.com", "127.0.0.1", blackhole.port), timeout=1)
    elapsed = time.monotonic() - started
    assert result.cert is None
    assert result.error == f"127.0.0.1:{blackhole.port} accepted TCP but sent no TLS answer in time"
    assert 0.9 <= elapsed < 2.0


def test_garbage_answer_is_a_clear_error(garbage: Garbage) -> None:
    result = probe(Target("junk.example.com", "127.0.0.1", garbage.port), timeout=2)
    assert result.cert is None
    assert result.error is not None and result.error.startswith("TLS handshake failed")


def test_refused_port_is_a_clear_error(blackhole: Blackhole) -> None:
    port = blackhole.port
    blackhole.stop()
    result = probe(Target("gone.example.com", "127.0.0.1", port), timeout=2)
    assert result.error is not None and "connect to 127.0.0.1" in result.error


def test_one_dead_host_does_not_slow_the_others(sni: SNIServer, blackhole: Blackhole) -> None:
    targets = [Target("valid.example.com", "127.0.0.1", sni.port) for _ in range(40)]
    targets.insert(7, Target("dead.example.com", "127.0.0.1", blackhole.port))
    started = time.monotonic()
    results = probe_many(targets, timeout=1.5, concurrency=8)
    elapsed = time.monotonic() - started
    assert [r.target for r in results] == targets
    assert sum(r.cert is None for r in results) == 1
    assert elapsed < 1.5 + 1.0


def test_a_hosts_names_wait_for_the_network_together_by_default(blackhole: Blackhole) -> None:
    # A probe mostly waits on round trips. With the default probe.concurrency, 100 names
    # that all wait cost one timeout, not one per wave of 16 (that would be 7 s here).
    from certkeeper.config import ProbeSettings

    targets = [Target(f"n{i}.example.com", "127.0.0.1", blackhole.port) for i in range(100)]
    started = time.monotonic()
    results = probe_many(targets, timeout=1, concurrency=ProbeSettings().concurrency)
    elapsed = time.monotonic() - started
    assert [r.target for r in results] == targets
    silent = f"127.0.0.1:{blackhole.port} accepted TCP but sent no TLS answer in time"
    assert all(r.cert is None and r.error == silent for r in results)
    assert elapsed < 1 + 1.5
