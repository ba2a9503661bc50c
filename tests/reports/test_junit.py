"""JUnit XML: parses, one suite per target, outcomes mapped as documented, counts consistent."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from report_samples import CONTROL_DETAIL, EXPECTED, LEAK_DETAIL, TARGETS

from mqttsec.reports import load_results
from mqttsec.reports.junit import render_junit


def _parse(results_file: Path) -> ET.Element:
    return ET.fromstring(render_junit(load_results(results_file)).encode("utf-8"))


def _props(node: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in node.findall("properties/property")}


def test_one_suite_per_target_with_counts(results_file: Path) -> None:
    root = _parse(results_file)
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert tuple(suites) == TARGETS
    for name, suite in suites.items():
        want = EXPECTED[name]
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(want["total"]) == str(len(cases))
        assert suite.get("failures") == str(want["fail"]) == str(len(suite.findall("*/failure")))
        assert suite.get("errors") == str(want["error"]) == str(len(suite.findall("*/error")))
        assert suite.get("skipped") == str(want["unsupported"])
        assert len(suite.findall("*/skipped")) == want["unsupported"]
        assert _props(suite)["deviations"] == str(want["deviation"])
        assert suite.get("timestamp") == "2026-01-02T03:04:05+00:00"
    assert root.get("tests") == str(sum(c["total"] for c in EXPECTED.values()))
    assert root.get("failures") == "4" and root.get("errors") == "1" and root.get("skipped") == "1"
    assert _props(suites["local:mosquitto"])["target.version"] == "2.0.11"


def test_outcome_mapping(results_file: Path) -> None:
    root = _parse(results_file)
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    leak = cases[("local:mosquitto.acl", "ACL-WILDCARD-ALL [MQTT 5.0]")]
    failure = leak.find("failure")
    assert failure is not None and failure.text == LEAK_DETAIL
    assert failure.get("message") == LEAK_DETAIL  # one line, short: the whole detail
    assert _props(leak) == {
        "outcome": "fail",
        "severity": "critical",
        "spec": "MQTT-4.7.1-1",
        "test": "suites/acl/test_x.py::test_acl-wildcard-all[local:mosquitto-5.0]",
    }
    assert leak.get("file") == "suites/acl/test_x.py" and leak.get("time") == "0.125"

    error = cases[("local:amqtt.auth", "AUTH-EMPTY-PASSWORD [MQTT 3.1.1]")].find("error")
    assert error is not None and error.get("message") == "call: ClientTimeout: no CONNACK"

    skipped = cases[("local:amqtt.acl", "ACL-WILDCARD-ALL [MQTT 5.0]")].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "local:amqtt does not speak MQTT 5.0"

    deviation = cases[("local:mosquitto.auth", "AUTH-EMPTY-PASSWORD [MQTT 3.1.1]")]
    assert [child.tag for child in deviation] == ["properties", "system-out"]  # a pass
    assert _props(deviation)["outcome"] == "deviation"
    assert "CONNACK 0x87 where the spec says 0x86" in (deviation.findtext("system-out") or "")

    passed = cases[("reference.acl", "ACL-WILDCARD-ALL [MQTT 3.1.1]")]
    assert [child.tag for child in passed] == ["properties"]


def test_duplicate_scenarios_get_unique_names_and_xml_safe_text(results_file: Path) -> None:
    root = _parse(results_file)
    names = [
        c.get("name") for c in root.iter("testcase") if c.get("classname") == "reference.robustness"
    ]
    assert names == [
        "ROB-BAD-TOPIC [MQTT 3.1.1] (test_bad[reference-3.1.1-nul])",
        "ROB-BAD-TOPIC [MQTT 3.1.1] (test_bad[reference-3.1.1-ff])",
    ]
    failure = root.find(
        ".//testcase[@name='ROB-BAD-TOPIC [MQTT 3.1.1] (test_bad[reference-3.1.1-ff])']/failure"
    )
    assert failure is not None
    assert failure.text == CONTROL_DETAIL.replace("\x00", "\\x00").replace("\x1b", "\\x1b").replace(
        "\ud800", "\\ud800"
    )


def test_long_message_is_cut_but_text_is_whole(results_file: Path) -> None:
    root = _parse(results_file)
    case = root.find(".//testcase[@classname='local:mosquitto.tls']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert len(message) == 200 and message.endswith("…")
    assert (failure.text or "").endswith("END-OF-LONG-DETAIL")
