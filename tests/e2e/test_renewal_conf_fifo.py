"""certbot's renewal conf replaced by a FIFO: read through the one bounded reader, it never
blocks `check`; that lineage is an ERROR that says why, and the other is still renewed."""

from __future__ import annotations

import os
import time

from support.host import SHOP, Host, dump, issue, make_due
from support.peers import age_lineage

BLOG = ("blog.example.test",)


def test_a_fifo_renewal_conf_is_that_lineages_error_and_the_other_is_renewed(host: Host) -> None:
    issue(host)
    issue(host, "blog", BLOG)
    age_lineage(host.le, "blog", days_left=5.5)
    host.edit_state("blog", last_attempt="2000-01-01T00:00:00Z")
    old = make_due(host)  # shop: due as well; reloads nginx for both
    conf = host.le / "renewal" / "blog.conf"
    conf.unlink()
    os.mkfifo(conf)

    started = time.monotonic()
    proc = host.check()
    took = time.monotonic() - started

    assert took < 40, f"check took {took:.0f} s"
    assert proc.returncode == 1, dump(proc)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert f"blog: certbot failed: certbot's renewal conf {conf} is a FIFO (named pipe)" in (
        proc.stderr
    ), dump(proc)
    assert "shop: renewed; nginx now serves it" in proc.stdout, dump(proc)
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop") != old
    subjects = sorted(m["Subject"] for m in host.mails)
    assert any(s.startswith("[ERROR]") and "blog.example.test" in s for s in subjects), subjects
    assert "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test" in subjects
