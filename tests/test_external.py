"""Finding external brokers/clients, and the CI policy: missing tools fail under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttsec.external import find_amqtt, find_mosquitto, find_tool, missing_tools

ROOT = Path(__file__).resolve().parent.parent

MARKED_TESTS = """
import pytest

@pytest.mark.amqtt
def test_needs_amqtt():
    pass

@pytest.mark.mosquitto
def test_needs_mosquitto():
    pass

def test_needs_amqtt_fixture(amqtt_tools):
    pass
"""


@pytest.fixture
def policy_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with the repository's root conftest and tools that cannot be found."""
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_marked=MARKED_TESTS)
    pytester.makeini("[pytest]\nmarkers =\n    amqtt: x\n    mosquitto: x\n")
    monkeypatch.setenv("MQTTSEC_AMQTT_BIN", str(pytester.path / "no-amqtt-here"))
    monkeypatch.setenv("MQTTSEC_MOSQUITTO_BIN", str(pytester.path / "no-mosquitto-here"))
    return pytester


def test_missing_tools_skip_outside_ci(
    policy_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = policy_project.runpytest("-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*amqtt, amqtt_pub, amqtt_sub not found*setup.sh*"])


def test_missing_tools_fail_under_ci(
    policy_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = policy_project.runpytest()
    result.assert_outcomes(errors=3)  # setup fails: reported as errors, the run exits 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*CI=true but mosquitto, mosquitto_pub, mosquitto_sub not found*"])


def test_env_override_is_the_only_place_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = tmp_path / "mytool"
    tool.write_text("#!/bin/sh\n")
    monkeypatch.setenv("MYTOOL_BIN", str(tmp_path))
    assert find_tool("mytool", env_var="MYTOOL_BIN") is None  # not executable
    tool.chmod(0o755)
    assert find_tool("mytool", env_var="MYTOOL_BIN") == tool
    monkeypatch.setenv("MYTOOL_BIN", str(tmp_path / "elsewhere"))
    assert find_tool("sh", env_var="MYTOOL_BIN") is None  # PATH's sh is not consulted


def test_amqtt_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("amqtt", "amqtt_pub", "amqtt_sub"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("MQTTSEC_AMQTT_BIN", str(tmp_path))
    assert find_amqtt("amqtt_pub") == tmp_path / "amqtt_pub"
    assert missing_tools("amqtt") == []


def test_mosquitto_found_in_sbin_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("Debian's mosquitto is not installed here")
    monkeypatch.delenv("MQTTSEC_MOSQUITTO_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_mosquitto("mosquitto") == Path("/usr/sbin/mosquitto")


def test_unknown_family_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown tool family"):
        missing_tools("hivemq")
