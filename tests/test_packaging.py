"""Packaging: both an editable install (this checkout) and a wheel in a clean venv work.

The package-dir mapping (reference_broker/ -> mqttsec.reference_broker, ...) is easy to
break silently: a new subpackage folder missing from pyproject's ``packages`` list still
imports in the editable checkout yet is absent from the wheel. These tests catch that.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import mqttsec

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
PACKAGES: list[str] = SETUPTOOLS["packages"]

#: Folders never copied into the build tree (caches, venvs, other builds).
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "mqttsec-report",
    "node_modules",
    "results",
)


def source_packages(root: Path = ROOT) -> dict[str, Path]:
    """Every package the mapped folders under ``root`` hold (folders with __init__.py)."""
    found: dict[str, Path] = {}
    for top in (p for p in PACKAGE_DIR if p.count(".") <= 1):
        folder = root / PACKAGE_DIR[top]
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            if any(part.startswith((".", "__")) for part in rel.parts):
                continue
            name = ".".join((top, *rel.parts)) if rel.parts else top
            found[name] = init.parent
    return found


def test_every_package_folder_is_listed() -> None:
    """A subpackage folder missing from pyproject's lists would be left out of the wheel."""
    on_disk = set(source_packages())
    missing = sorted(on_disk - set(PACKAGES))
    assert not missing, f"add to [tool.setuptools] packages and package-dir: {missing}"
    for package in PACKAGES:
        mapped = package in PACKAGE_DIR or package.rsplit(".", 1)[0] in PACKAGE_DIR
        assert mapped, f"{package} has no package-dir entry"


def test_editable_install_entry_points() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    (script,) = [ep for ep in scripts if ep.name == "mqttsec"]
    assert script.value == "mqttsec.cli:main"
    assert callable(script.load())
    plugins = importlib.metadata.entry_points(group="pytest11")
    (plugin,) = [ep for ep in plugins if ep.name == "mqttsec"]
    assert plugin.load().__name__ == "mqttsec.fixtures.plugin"
    assert importlib.metadata.version("mqttsec") == mqttsec.__version__


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_editable_install_imports_from_checkout(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(ROOT)


def test_plugin_is_loaded_by_pytest(pytester: pytest.Pytester) -> None:
    """pytest finds the plugin through the pytest11 entry point on its own."""
    config = pytester.parseconfigure()
    plugin = config.pluginmanager.get_plugin("mqttsec")
    assert plugin is not None and plugin.__name__ == "mqttsec.fixtures.plugin"
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.scenario(id, family, severity, versions, spec)*"])


def _run(cmd: list[str | Path], cwd: Path, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{cmd} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_clean_venv(tmp_path: Path) -> None:
    """Build a wheel from a copy of the sources, install it in a venv without this checkout
    or the system site-packages, and use it: CLI, imports, plugin entry point, smoke run."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE, symlinks=True)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src], tmp_path)
    (wheel,) = dist.glob("mqttsec-*.whl")

    # Every source module of every mapped package is in the wheel.
    names = set(zipfile.ZipFile(wheel).namelist())
    for package, folder in source_packages(src).items():
        for py in folder.glob("*.py"):
            member = f"{package.replace('.', '/')}/{py.name}"
            assert member in names, f"{member} missing from the wheel"
        assert f"{package.replace('.', '/')}/py.typed" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path)
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel], tmp_path)

    work = tmp_path / "work"  # neither the checkout nor src: imports must come from the venv
    work.mkdir()
    assert (
        _run([bin_dir / "mqttsec", "--version"], work).strip() == f"mqttsec {mqttsec.__version__}"
    )
    assert f"mqttsec {mqttsec.__version__}" in _run([bin_dir / "mqttsec", "version"], work)
    modules = "mqttsec.reference_broker.protocol, mqttsec.fixtures.plugin, mqttsec.suites, mqttsec.reports"
    probe = (
        f"import {modules}, importlib.metadata as md, pathlib, sys\n"
        "import mqttsec.reference_broker.protocol as p\n"
        "assert pathlib.Path(p.__file__).is_relative_to(sys.prefix), p.__file__\n"
        "eps = md.entry_points(group='pytest11')\n"
        "assert [ep.value for ep in eps if ep.name == 'mqttsec'] == ['mqttsec.fixtures.plugin'], eps\n"
        "print('ok', p.__file__)\n"
    )
    assert _run([python, "-c", probe], work).startswith("ok ")
    out = _run([bin_dir / "mqttsec", "smoke", "--report-dir", work / "report"], work, timeout=120)
    assert "0 failed" in out and (work / "report" / "results.json").is_file()
