"""The Makefile rebuilds a half-built .venv instead of failing on `.venv/bin/pip: No such file`.

The real Makefile runs against a tiny project whose in-tree build backend needs nothing from
an index, so the test is offline and takes seconds, not the minutes of the real install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).parents[2]

PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "tiny"
version = "0"

[project.optional-dependencies]
test = []
"""

# PEP 660's one required hook: an editable wheel holding only its metadata.
BACKEND = """\
import zipfile
from pathlib import Path

INFO = "tiny-0.dist-info"
FILES = {
    f"{INFO}/METADATA": "Metadata-Version: 2.1\\nName: tiny\\nVersion: 0\\nProvides-Extra: test\\n",
    f"{INFO}/WHEEL": "Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name = "tiny-0-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w") as whl:
        for path, text in FILES.items():
            whl.writestr(path, text)
        whl.writestr(f"{INFO}/RECORD", "".join(f"{p},,\\n" for p in [*FILES, f"{INFO}/RECORD"]))
    return name
"""


def project(tmp_path: Path) -> Path:
    shutil.copy(TOP / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "backend.py").write_text(BACKEND)
    return tmp_path


def make(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # No index and no pip config: `pip install --upgrade pip` keeps the bundled pip.
    full_env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, **env}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def base_python() -> str:
    # The interpreter the venv running this test was made from, as `python3` would be.
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}")


def test_a_venv_without_pip_is_rebuilt(tmp_path: Path) -> None:
    folder = project(tmp_path)
    # What a first `make` leaves when python3-venv is missing: python, no pip, no stamp.
    subprocess.run(
        [base_python(), "-m", "venv", "--without-pip", str(folder / ".venv")],
        check=True,
        timeout=120,
    )
    assert not (folder / ".venv/bin/pip").exists()

    proc = make(folder, "venv", f"PYTHON={base_python()}")

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ".venv is incomplete: rebuilding it" in proc.stdout
    assert (folder / ".venv/bin/pip").exists()
    assert (folder / ".venv/.installed").exists()
    again = make(folder, "venv", f"PYTHON={base_python()}")
    assert again.returncode == 0 and "rebuilding" not in again.stdout


def test_a_python_without_ensurepip_gets_the_apt_line(tmp_path: Path) -> None:
    folder = project(tmp_path)
    # Debian without python3-venv: `import ensurepip` fails. A module of that name first on
    # PYTHONPATH makes this interpreter fail the same way.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "ensurepip.py").write_text("raise ImportError('python3-venv is not installed')\n")

    proc = make(folder, "venv", f"PYTHON={base_python()}", PYTHONPATH=str(shadow))

    assert proc.returncode != 0
    assert "apt-get install -y python3-venv" in proc.stderr
    assert not (folder / ".venv").exists()
