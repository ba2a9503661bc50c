"""The pytest plugin, run with pytester: options, marker validation, outcomes, results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# A fake target registered through the overridable resolver fixture: no broker needed.
FAKE_CONFTEST = """
from pathlib import Path
import pytest
from mqttsec.fixtures.targets import Capability, Endpoint, Installation, RunningTarget, Target

STARTS = []

class FakeRunning(RunningTarget):
    def log_text(self): return ""
    def stop(self): STARTS.append("stop")

class Fake(Target):
    name = "fake"
    capabilities = frozenset({Capability.ACL})
    @classmethod
    def probe(cls): return Installation(True, "9.9", "in the test")
    def start(self, profile, pki, workdir, *, timeout=30):
        STARTS.append("start")
        return FakeRunning("fake", {"plain": Endpoint("plain", "plain", "127.0.0.1", 9)},
                           self.capabilities)

class Missing(Fake):
    name = "missing"
    @classmethod
    def probe(cls): return Installation(False, None, "apt-get install missing")

@pytest.fixture(scope="session")
def mqtt_target_resolver():
    return {"fake": Fake, "missing": Missing}.__getitem__ and (
        lambda spec: {"fake": Fake, "missing": Missing}[spec]())
"""


@pytest.fixture(autouse=True)
def _quiet_pytester(pytester: pytest.Pytester) -> None:
    """Inline runs drop the modules they import; hypothesis' plugin would re-import all of
    hypothesis in every run (~1.5 s), so the nested runs go without it."""
    pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest -p no:randomly\n")


def _results(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((path / "results.json").read_text())
    return doc


def _rows(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["scenario"], r["target"], r["mqtt_version"]): r for r in doc["results"]}


def test_options_are_in_their_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*mqttsec*", "*--mqtt-target=SPEC*", "*--require-targets*"])
    for option in ("--mqtt-profile", "--mqtt-report-dir", "--mqtt-version"):
        assert option in result.stdout.str()


def test_options_are_parsed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_opts(pytestconfig):
            assert pytestconfig.getoption("mqtt_target") == ["a", "b"]
            assert pytestconfig.getoption("mqtt_version") == ["5.0"]
            assert pytestconfig.getoption("mqtt_report_dir") == "out"
            assert pytestconfig.getoption("require_targets") is True
        """
    )
    result = pytester.runpytest(
        "--mqtt-target=a",
        "--mqtt-target",
        "b",
        "--mqtt-version=5.0",
        "--mqtt-report-dir=out",
        "--require-targets",
    )
    result.assert_outcomes(passed=1)


def test_bad_version_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--mqtt-version=4.0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('id="X-1", family="acl", severity="urgent"', "unknown severity 'urgent'"),
        ('family="acl", severity="high"', "id= must be a non-empty string"),
        ('id="X-1", family="acl", severity="high", versions=["4"]', "versions ['4']"),
        ('id="X-1", family="acl", severity="high", spec="MQTT-1"', "spec= must be a list"),
    ],
)
def test_marker_validation(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        @pytest.mark.scenario({marker})
        def test_s():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert message in result.stdout.str()


def test_duplicate_scenario_id_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.scenario(id="DUP-1", family="acl", severity="low")
        def test_a():
            pass
        @pytest.mark.scenario(id="DUP-1", family="acl", severity="low")
        def test_b():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert "scenario id 'DUP-1' is already used by" in result.stdout.str()


OUTCOMES_FILE = """
import pytest
from mqttsec.fixtures.plugin import Unsupported, deviation, mqttsec_unsupported

@pytest.mark.scenario(id="T-PASS", family="acl", severity="high", spec=["MQTT-4.9"])
def test_pass(mqtt_target, mqtt_version):
    assert mqtt_target.name == "fake"

@pytest.mark.scenario(id="T-DEV", family="auth", severity="low", versions=["3.1.1"])
def test_deviation(mqtt_target, mqtt_version):
    deviation("answered 0x04 where the spec says 0x05")

@pytest.mark.scenario(id="T-UNSUP", family="tls", severity="medium", versions=["3.1.1"])
def test_unsupported(mqtt_target, mqtt_version):
    mqttsec_unsupported("no CRL support")

@pytest.mark.scenario(id="T-UNSUP-EXC", family="tls", severity="medium", versions=["3.1.1"])
def test_unsupported_raised(mqtt_target, mqtt_version):
    raise Unsupported("raised directly")

@pytest.mark.scenario(id="T-FAIL", family="acl", severity="critical", versions=["3.1.1"])
def test_fail(mqtt_target, mqtt_version):
    assert False, "LEAK: secret"

@pytest.mark.scenario(id="T-ERROR", family="acl", severity="critical", versions=["3.1.1"])
def test_error(mqtt_target, mqtt_version):
    raise RuntimeError("harness broke")

def test_not_a_scenario(mqtt_target):
    pass
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["inline", "xdist"])
def test_outcomes_in_results_json(pytester: pytest.Pytester, xdist: bool) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_outcomes=OUTCOMES_FILE)
    report = pytester.path / "report"
    args = ["--mqtt-target=fake", f"--mqtt-report-dir={report}"]
    if xdist:
        result = pytester.runpytest_subprocess(*args, "-n", "2", "-p", "xdist")
    else:
        result = pytester.runpytest(*args)
    result.assert_outcomes(passed=3, skipped=3, failed=2)
    doc = _results(report)
    rows = _rows(doc)
    assert doc["kind"] == "scenarios" and doc["schema"] == "mqttsec.results/1"
    expected = {
        ("T-PASS", "fake", "3.1.1"): "pass",
        # the fake target lacks MQTT 5: unsupported, never pass
        ("T-PASS", "fake", "5.0"): "unsupported",
        ("T-DEV", "fake", "3.1.1"): "deviation",
        ("T-UNSUP", "fake", "3.1.1"): "unsupported",
        ("T-UNSUP-EXC", "fake", "3.1.1"): "unsupported",
        ("T-FAIL", "fake", "3.1.1"): "fail",
        ("T-ERROR", "fake", "3.1.1"): "error",
    }
    assert {k: r["outcome"] for k, r in rows.items()} == expected
    assert rows[("T-DEV", "fake", "3.1.1")]["detail"] == "answered 0x04 where the spec says 0x05"
    assert rows[("T-UNSUP", "fake", "3.1.1")]["detail"] == "no CRL support"
    assert "does not speak MQTT 5.0" in rows[("T-PASS", "fake", "5.0")]["detail"]
    assert "LEAK: secret" in rows[("T-FAIL", "fake", "3.1.1")]["detail"]
    first = rows[("T-PASS", "fake", "3.1.1")]
    assert first["spec"] == ["MQTT-4.9"] and first["severity"] == "high"
    assert first["family"] == "acl" and first["duration_s"] >= 0
    assert doc["targets"]["fake"]["version"] == "9.9"
    assert doc["summary"]["total"] == 7 and doc["summary"]["unsupported"] == 3
    assert doc["profile"]["name"] == "default"


def test_missing_target_is_unsupported_or_required(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.scenario(id="M-1", family="acl", severity="low", versions=["3.1.1"])
        def test_m(mqtt_target, mqtt_version):
            pass
        """
    )
    report = pytester.path / "r"
    result = pytester.runpytest("--mqtt-target=missing", f"--mqtt-report-dir={report}")
    result.assert_outcomes(skipped=1)
    row = _results(report)["results"][0]
    assert row["outcome"] == "unsupported" and "apt-get install missing" in row["detail"]
    result = pytester.runpytest(
        "--mqtt-target=missing", "--require-targets", f"--mqtt-report-dir={report}"
    )
    result.assert_outcomes(errors=1)
    row = _results(report)["results"][0]
    assert row["outcome"] == "error" and "required but not installed" in row["detail"]


def test_target_starts_once_per_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(
        """
        import conftest
        def test_a(mqtt_target, mqtt_version): pass
        def test_b(mqtt_target, mqtt_version): pass
        def test_last():
            assert conftest.STARTS == ["start"]
        """
    )
    result = pytester.runpytest("--mqtt-target=fake", "-p", "no:randomly")
    result.assert_outcomes(passed=3, skipped=2)


REFERENCE_SCENARIOS = """
import uuid
import pytest
from mqttsec.fixtures.expect import expect_delivered, expect_not_delivered

@pytest.mark.scenario(id="ACL-READ-DENIED", family="acl", severity="high", spec=["MQTT-4.9"])
def test_private_sensor_not_delivered(mqtt_client, mqtt_profile):
    assert not mqtt_profile.may_receive("alice", "sensors/private/x")
    alice = mqtt_client("alice")
    admin = mqtt_client("admin")
    # a broker with subscribe-time ACL refuses the wide filter; one without grants it
    assert alice.subscribe("sensors/#")[0] in (0, 1, 0x80, 0x87)
    assert alice.subscribe("sensors/public/#") == [1]
    token = uuid.uuid4().hex.encode()
    expect_delivered(alice, admin, "sensors/public/t", token)
    expect_not_delivered(alice, admin, "sensors/private/x", token,
                         sentinel_topic="sensors/public/t")

@pytest.mark.scenario(id="MTLS-IDENTITY", family="mtls", severity="high")
def test_device_over_mtls(mqtt_client, mqtt_raw_client):
    device = mqtt_client("device-1", listener="mtls")
    assert (device.publish("users/device-1/hello", b"hi") or 0) < 0x80  # 0x10: no subscribers
    wrong = mqtt_client("alice", listener="tls", password="wrong", connect=False)
    assert wrong.connect() not in (0, None)
    raw = mqtt_raw_client("tls")
    assert raw.connect("raw-1", username="bob", password="bob-Pw-4711").reason_code == 0
"""


def test_scenarios_against_the_reference_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reference=REFERENCE_SCENARIOS)
    report = pytester.path / "report"
    result = pytester.runpytest(f"--mqtt-report-dir={report}")
    result.assert_outcomes(passed=4)
    doc = _results(report)
    assert {(r["scenario"], r["mqtt_version"], r["outcome"]) for r in doc["results"]} == {
        ("ACL-READ-DENIED", "3.1.1", "pass"),
        ("ACL-READ-DENIED", "5.0", "pass"),
        ("MTLS-IDENTITY", "3.1.1", "pass"),
        ("MTLS-IDENTITY", "5.0", "pass"),
    }
    assert doc["targets"]["reference"]["capabilities"]
