"""The shipped alert rules, validated and unit-tested by Prometheus' own promtool
(Debian package `prometheus`): a 90-day and a 6-day certificate, and every alert
firing and staying silent."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from certkeeper.render.metrics import FAMILIES

TOP = Path(__file__).parents[2]
RULES = TOP / "examples/prometheus/certkeeper.rules.yml"
RULE_TESTS = TOP / "tests/prometheus/certkeeper.rules.test.yml"


def promtool(*args: str, cwd: Path = TOP) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def test_promtool_checks_the_rules() -> None:
    proc = promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 9 rules found" in proc.stdout


def test_promtool_unit_tests_pass_for_90_and_6_day_certificates() -> None:
    proc = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rules_cover_the_issue_and_use_only_metrics_certkeeper_writes() -> None:
    doc = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == {
        "CertkeeperCertificateExpiring",
        "CertkeeperCertificateExpiringCritical",
        "CertkeeperCertificateNotYetValid",
        "CertkeeperServedNotDisk",
        "CertkeeperRenewalsFailing",
        "CertkeeperAgentQuiet",
        "CertkeeperOutboxNotDraining",
        "CertkeeperRehearsalFailing",
    }
    assert alerts["CertkeeperServedNotDisk"]["for"] == "1h"
    assert alerts["CertkeeperOutboxNotDraining"]["for"] == "6h"
    used = set(re.findall(r"\bcertkeeper_[a-z_]+\b", RULES.read_text()))
    assert used <= set(FAMILIES), used - set(FAMILIES)
    # No fixed-days expiry rule: the lifetime decides.
    expiring = alerts["CertkeeperCertificateExpiring"]["expr"]
    assert "1/6" in expiring and "86400" not in RULES.read_text()


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(RULES.read_text().replace("< 1/12", "< 1/12)"))
    proc = promtool("check", "rules", str(broken))
    assert proc.returncode != 0
