"""check's story on values: plan, gate, act, record, told.

certbot is tests/support/fake_certbot.py, a real process that writes a lineage the way
certbot does; nginx -t and the reload are real commands that leave a mark; the probe
after the reload is handed in (what a test's nginx would serve), so no TLS server is
needed and nothing is monkeypatched.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certkeeper import certbot, render, state
from certkeeper.actions import check
from certkeeper.config import Config, load
from certkeeper.notify.events import Event, Failed, Renewed
from certkeeper.outcomes import Acted, Skipped, WouldAct
from certkeeper.probe import ProbeResult, Target
from support.peers import age_lineage
from support.run import service, write_config

FAKE_CERTBOT = Path(__file__).parents[2] / "support" / "fake_certbot.py"
DOMAINS = ("shop.example.com", "www.shop.example.com")


def _now() -> datetime:
    return datetime.now(UTC)


class World:
    """One host: its config, its state, the notices spooled, and nginx's marks."""

    def __init__(self, root: Path, certbot_env: tuple[str, ...] = ()) -> None:
        self.root = root
        command = [*(["env", *certbot_env] if certbot_env else []), sys.executable]
        self.cfg: Config = load(
            write_config(
                root,
                {"shop": service("shop", *DOMAINS)},
                certbot={"command": [*command, str(FAKE_CERTBOT)]},
                nginx={
                    "test_command": ["touch", str(root / "nginx-tested")],
                    "reload_command": ["touch", str(root / "nginx-reloaded")],
                },
                probe={"timeout_seconds": 1, "port": 9},  # nothing answers: the disk decides
            )
        )
        self.state = state.load(self.cfg.state_dir, _now())
        self.spooled: list[Event] = []

    def serves_disk(self, domains: list[str]) -> list[ProbeResult]:
        """What nginx serves after the reload: the lineage's certificate on every name."""
        disk, _ = certbot.read_disk(self.cfg, "shop")
        return [ProbeResult(Target(d, "127.0.0.1", 443), disk, None, None, None) for d in domains]

    def journal(self) -> check.Journal:
        def spool(event: Event) -> str | None:
            self.spooled.append(event)
            return None

        return check.Journal(save=lambda: None, spool=spool, told=lambda nonce: False)

    def run(self, *, dry_run: bool = False, force: bool = False) -> check.CheckReport:
        journal = None if dry_run else self.journal()
        story = check.Story(self.cfg, self.state, _now, journal, self.serves_disk, force)
        return check.tell(story, self.cfg.services)


def test_dry_run_says_it_would_issue_and_touches_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    report = world.run(dry_run=True)
    assert report.outcomes == [WouldAct("shop", "shop", "issue", "", None, None)]
    assert render.check_lines(report.outcomes) == (
        ["would issue shop (no certificate on disk; service shop)"],
        [],
    )
    assert certbot.read_disk(world.cfg, "shop") == (None, None)
    assert not (tmp_path / "nginx-reloaded").exists() and world.spooled == []


def test_a_missing_lineage_is_issued_deployed_verified_and_told(tmp_path: Path) -> None:
    world = World(tmp_path)
    report = world.run()
    [outcome] = report.outcomes
    assert isinstance(outcome, Acted) and isinstance(outcome.event, Renewed)
    assert outcome.event.previous_expiry is None and not report.failed
    lines, problems = render.check_lines(report.outcomes)
    assert lines[0].startswith(f"shop: issued; nginx now serves it on {', '.join(DOMAINS)}")
    assert problems == []
    assert world.spooled == [outcome.event]
    assert (tmp_path / "nginx-tested").exists() and (tmp_path / "nginx-reloaded").exists()
    link = world.cfg.nginx.certs_dir / "shop.fullchain.crt"
    assert link.resolve() == (certbot.live_dir(world.cfg, "shop") / "fullchain.pem").resolve()
    rec = world.state.certs["shop"]
    assert (rec.last_result, rec.consecutive_failures, rec.intent) == ("success", 0, None)

    # Fresh and served as on disk: the next run has nothing to do or say.
    again = world.run()
    assert again.outcomes == [] and len(world.spooled) == 1


def test_a_due_certificate_is_renewed_with_certbots_renew(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run()
    old = age_lineage(world.cfg.certbot.config_dir, "shop", days_left=10)
    world.state.certs["shop"].last_attempt = None
    report = world.run()
    [outcome] = report.outcomes
    assert isinstance(outcome, Acted) and isinstance(outcome.event, Renewed), report.outcomes
    disk, _ = certbot.read_disk(world.cfg, "shop")
    assert disk is not None and disk.serial != old
    assert outcome.event.previous_expiry is not None
    assert render.check_lines(report.outcomes)[0][0].startswith("shop: renewed; nginx now serves")


def test_certbot_failing_then_the_20_hour_gate(tmp_path: Path) -> None:
    world = World(tmp_path, certbot_env=("FAKE_CERTBOT_FAIL=1",))
    first = world.run()
    [outcome] = first.outcomes
    assert isinstance(outcome, Acted) and isinstance(outcome.event, Failed)
    assert outcome.event.step == "certbot" and first.failed
    # argv[0] is `env` here (it sets FAKE_CERTBOT_FAIL); certbot's stderr follows in the card.
    assert render.check_lines(first.outcomes)[1] == ["shop: certbot failed: env exited with code 1"]
    assert "Some challenges have failed." in outcome.event.output
    rec = world.state.certs["shop"]
    assert (rec.last_result, rec.consecutive_failures) == ("error", 1)

    held = world.run()
    [skipped] = held.outcomes
    assert isinstance(skipped, Skipped) and skipped.still_failing and held.failed
    [problem] = render.check_lines(held.outcomes)[1]
    assert problem.startswith("shop: still failing since ") and "next allowed after" in problem
    assert rec.consecutive_failures == 1, "a held-back run is not another failure"

    forced = world.run(force=True)
    assert isinstance(forced.outcomes[0], Acted) and rec.consecutive_failures == 2


def test_a_killed_run_is_finished_by_the_next(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run()
    disk, _ = certbot.read_disk(world.cfg, "shop")
    assert disk is not None
    started = _now()
    world.state.certs["shop"].intent = state.Intent(
        "renew", started, "abc123", disk.serial_hex, disk.not_after
    )
    report = world.run()
    event = report.outcomes[0].event  # type: ignore[union-attr]
    assert isinstance(event, Failed) and event.step == "interrupted" and event.nonce == "abc123"
    assert "was killed before it could tell" in event.notes[0]
    assert world.state.certs["shop"].intent is None


@pytest.mark.parametrize("told", [True, False])
def test_a_told_story_is_not_told_twice(tmp_path: Path, told: bool) -> None:
    world = World(tmp_path)
    world.run()
    world.state.certs["shop"].intent = state.Intent("renew", _now(), "abc123")
    journal = world.journal()
    journal.told = lambda nonce: told
    story = check.Story(world.cfg, world.state, _now, journal, world.serves_disk)
    report = check.tell(story, world.cfg.services)
    # Told: only the bookkeeping was lost. Not told: the story is finished and told now.
    assert (report.outcomes == []) is told
    assert len(world.spooled) == (1 if told else 2)
    assert world.state.certs["shop"].intent is None
