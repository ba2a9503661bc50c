"""The root conftest's policy for the comparison-broker markers: a missing broker skips on a
developer's machine and fails under ``CI=true`` (CI installs them all with install-brokers.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttsec.fixtures.targets import Installation, all_targets

ROOT = Path(__file__).resolve().parents[2]
BROKERS = ("aedes", "rabbitmq", "activemq", "ejabberd")
MARKED = "import pytest\n" + "".join(
    f"\n@pytest.mark.{name}\ndef test_needs_{name}():\n    pass\n" for name in BROKERS
)


@pytest.fixture
def nothing_installed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A project with the repository's root conftest, where no comparison broker is found."""
    for cls in all_targets():
        if cls.name.removeprefix("local:") in BROKERS:
            missing = Installation(False, None, f"{cls.name} not here")
            monkeypatch.setattr(cls, "probe", classmethod(lambda _cls, m=missing: m))
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_marked=MARKED)
    markers = "".join(f"    {name}: x\n" for name in BROKERS)
    pytester.makeini(f"[pytest]\nmarkers =\n{markers}")
    return pytester


def test_missing_brokers_skip_outside_ci(
    nothing_installed: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = nothing_installed.runpytest("-rs", "-p", "no:randomly")
    result.assert_outcomes(skipped=len(BROKERS))
    result.stdout.fnmatch_lines(["*local:rabbitmq: local:rabbitmq not here*"])


def test_missing_brokers_fail_under_ci(
    nothing_installed: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = nothing_installed.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=len(BROKERS))  # setup fails: errors, the run exits 1
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for name in BROKERS:
        result.stdout.fnmatch_lines([f"*CI=true but local:{name}: local:{name} not here*"])


def test_installed_brokers_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is the target's probe: an installed broker lets the marked test run."""
    for cls in all_targets():
        if cls.name.removeprefix("local:") in BROKERS:
            found = Installation(True, "1.0", "here")
            monkeypatch.setattr(cls, "probe", classmethod(lambda _cls, f=found: f))
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_marked=MARKED)
    pytester.makeini("[pytest]\nmarkers =\n" + "".join(f"    {n}: x\n" for n in BROKERS))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=len(BROKERS))
