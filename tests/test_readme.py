"""README.md stays true: its first commands are what CI runs, its broker.toml example loads."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from mqttsec.reference_broker.config import BrokerConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(block: str) -> list[str]:
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_opens_with_two_commands_that_ci_runs() -> None:
    first = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first is not None and README.index(first.group(0)) < README.index("## ")
    setup_and_smoke, setup_and_test = _commands(first.group(1))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in (setup_and_smoke, setup_and_test):
        setup, _, job = command.partition(" && ")
        assert setup == "bash scripts/setup.sh"
        assert job.replace("python3", '"$PYTHON"') in ci, f"{job!r} not run by .ci/run"


def test_readme_broker_toml_example_loads(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", README, re.DOTALL)
    assert example is not None
    path = tmp_path / "broker.toml"
    path.write_text(example.group(1), encoding="utf-8")
    loaded = load_config(path)  # raises on an unknown key or a bad value
    defaults = BrokerConfig()
    for key in tomllib.loads(example.group(1)):
        assert getattr(loaded, key) == getattr(defaults, key), f"{key}: README shows no default"
