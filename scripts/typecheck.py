"""Run mypy over the whole mqttsec package as it is laid out once installed.

Why: pyproject.toml maps top-level folders (reference_broker/, fixtures/, suites/, reports/)
onto ``mqttsec.*`` with a setuptools package-dir mapping; mypy knows nothing of such a
mapping, so ``import mqttsec.reference_broker...`` would not resolve. This script builds a
throw-away tree of symlinks in the installed layout (read from pyproject.toml, so it never
drifts), runs ``mypy -p mqttsec`` on it with the project's settings, and prints mypy's
messages with the paths rewritten back to the files in this checkout.

Usage: python scripts/typecheck.py [extra mypy args]; exit code is mypy's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_tree(dest: Path) -> dict[str, Path]:
    """Symlink every mapped package under ``dest``; returns installed prefix -> source dir."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    top = dest / "mqttsec"
    top.mkdir()
    for entry in (ROOT / mapping["mqttsec"]).iterdir():
        (top / entry.name).symlink_to(entry)
    prefixes = {"mqttsec": ROOT / mapping["mqttsec"]}
    for package, folder in sorted(mapping.items()):
        parts = package.split(".")
        # Link only packages whose parent is not itself linked from another folder.
        if len(parts) == 2:
            link = top / parts[1]
            if link.exists() or link.is_symlink():
                link.unlink()
            link.symlink_to(ROOT / folder, target_is_directory=True)
            prefixes["/".join(parts)] = ROOT / folder
    return prefixes


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="mqttsec-typecheck-") as tmp:
        prefixes = build_tree(Path(tmp))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "-p",
                "mqttsec",
                *argv,
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    out = proc.stdout + proc.stderr
    # Longest prefix first, so mqttsec/reference_broker/ wins over mqttsec/.
    for prefix, source in sorted(prefixes.items(), key=lambda kv: -len(kv[0])):
        rel = source.relative_to(ROOT).as_posix()
        out = "\n".join(
            (rel + line[len(prefix) :]) if line.startswith(prefix + "/") else line
            for line in out.splitlines()
        )
    print(out)
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
