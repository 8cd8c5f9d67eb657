#!/usr/bin/env python3
"""Rewrite docs/configuration.md's config key table from src/certkeeper/config/keys.py.

tests/unit/test_config_keys.py fails when the two differ; this is the fix."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from certkeeper.config.show import readme_with_table  # noqa: E402

readme = ROOT / "docs" / "configuration.md"
old = readme.read_text(encoding="utf-8")
new = readme_with_table(old)
if new != old:
    readme.write_text(new, encoding="utf-8")
    print(f"{readme}: key table rewritten")
else:
    print(f"{readme}: key table already up to date")
