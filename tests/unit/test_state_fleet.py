"""What state.json keeps for the fleet's metrics: the last verified renewal per
certificate and the last check run, both read tolerantly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certkeeper import state

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_last_success_and_check_run_round_trip(tmp_path: Path) -> None:
    st = state.load(tmp_path, NOW)
    st.cert("shop").last_success = NOW
    st.check_run = state.CheckRun(NOW, success=False)
    st.save(NOW)
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["certs"]["shop"]["last_success"] == "2026-11-26T03:00:00Z"
    assert doc["check"] == {"last_run": "2026-11-26T03:00:00Z", "success": False}
    again = state.load(tmp_path, NOW)
    assert again.cert("shop").last_success == NOW
    assert again.check_run == state.CheckRun(NOW, success=False)


@pytest.mark.parametrize(
    ("last_success", "check"),
    [
        ("yesterday", {"last_run": "2026-11-26T03:00:00Z", "success": "yes"}),
        (12, {"last_run": None, "success": True}),
        (None, ["2026-11-26T03:00:00Z", True]),
    ],
)
def test_malformed_values_are_ignored_not_fatal(
    tmp_path: Path, last_success: object, check: object
) -> None:
    doc = {
        "version": 1,
        "certs": {"shop": {"last_attempt": "2026-11-25T03:00:00Z", "last_success": last_success}},
        "check": check,
    }
    (tmp_path / "state.json").write_text(json.dumps(doc))
    st = state.load(tmp_path, NOW)
    assert st.warnings == []
    assert st.cert("shop").last_success is None
    assert st.cert("shop").last_attempt == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert st.check_run is None
