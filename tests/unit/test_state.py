"""State survives crashes and corruption; the outbox never holds half a message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from certkeeper import state

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_round_trip(tmp_path: Path) -> None:
    st = state.load(tmp_path, NOW)
    rec = st.cert("shop")
    rec.last_attempt = NOW
    rec.consecutive_failures = 2
    rec.warned_thresholds = [7, 30, 14]
    st.mark_delivered("shop.success.x", NOW)
    st.save(NOW)
    again = state.load(tmp_path, NOW)
    assert again.cert("shop").last_attempt == NOW
    assert again.cert("shop").consecutive_failures == 2
    assert again.cert("shop").warned_thresholds == [30, 14, 7]
    assert "shop.success.x" in again.delivered
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_state_is_moved_aside_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"certs": {"shop": {"last_attempt": ')
    st = state.load(tmp_path, NOW)
    assert st.certs == {}
    assert st.warnings and "moved aside" in st.warnings[0]
    aside = tmp_path / "state.json.corrupt-20261126T030000Z"
    assert aside.read_text().startswith('{"certs"')
    st.save(NOW)
    assert json.loads((tmp_path / "state.json").read_text())["version"] == 1


def test_dry_reads_leave_a_corrupt_file_alone(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("not json")
    st = state.load(tmp_path, NOW, repair=False)
    assert st.warnings
    assert (tmp_path / "state.json").read_text() == "not json"
