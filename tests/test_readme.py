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
        setup, *steps = command.split(" && ")
        assert setup == "bash scripts/setup.sh"
        for step in steps:
            assert step.replace("python3", '"$PYTHON"') in ci, f"{step!r} not run by .ci/run"


def test_readme_broker_toml_example_loads(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", README, re.DOTALL)
    assert example is not None
    path = tmp_path / "broker.toml"
    path.write_text(example.group(1), encoding="utf-8")
    loaded = load_config(path)  # raises on an unknown key or a bad value
    defaults = BrokerConfig()
    for key in tomllib.loads(example.group(1)):
        assert getattr(loaded, key) == getattr(defaults, key), f"{key}: README shows no default"


def test_readme_main_job_runs_the_suite_and_its_synopsis_matches_the_parser() -> None:
    """The main command is the catalogue against the reference broker, and every option the
    README's synopsis of ``mqttsec run`` / ``compare`` shows exists."""
    from mqttsec import compare_command, run_command

    first = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert first is not None
    main_job = _commands(first.group(1))[0].partition(" && ")[2]
    assert main_job == "python3 -m mqttsec run --report-dir mqttsec-report"
    for name, module in (("run", run_command), ("compare", compare_command)):
        synopsis = re.search(rf"^mqttsec {name} (.*?)\n {{8}}\S", README, re.DOTALL | re.MULTILINE)
        assert synopsis is not None, f"no `mqttsec {name}` in the command line section"
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-k)\b", synopsis.group(1)))
        assert options, synopsis.group(1)
        parser = module._build_parser()
        accepted = {o for action in parser._actions for o in action.option_strings}
        accepted -= {"-h", "--help"}
        assert options <= accepted, f"mqttsec {name}: README shows {options - accepted}"
        assert {o for o in accepted if o.startswith("--") or o == "-k"} <= options, (
            f"mqttsec {name}: the README's synopsis lacks {accepted - options}"
        )
