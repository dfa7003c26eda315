"""The built wheel holds every module and data file of the source tree.

An editable install maps whole folders, so a subpackage missing from ``pyproject.toml`` still
imports there; only a real wheel (``pip install .``, a registry install) shows the gap.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED_PARTS = {"__pycache__"}
# Build from a copy: a stale build/ in the checkout would be packed into the wheel as it is.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "*-output",
    "test-artifacts",
    "tests",
    "benchmarks",
)


def _expected_files() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    expected: set[str] = set()
    for package, folder in package_dir.items():  # sibling folders, none inside another
        base = ROOT / folder
        for path in base.rglob("*"):
            if not path.is_file() or IGNORED_PARTS & set(path.parts):
                continue
            rel = path.relative_to(base)
            if (
                path.suffix == ".py"
                or rel.parts[0] in {"default", "static"}
                or path.name == "py.typed"
            ):
                expected.add("/".join((*package.split("."), *rel.parts)))
    return expected


def test_wheel_ships_every_module_and_data_file(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("vidprov-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    expected = _expected_files()
    assert "vidprov/detector/models/forensic.py" in expected  # the walk found the tree
    assert "vidprov/detector/default/model.joblib" in expected
    assert expected - shipped == set()
