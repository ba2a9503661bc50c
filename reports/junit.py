"""JUnit XML for CI systems: one ``<testsuite>`` per target, one ``<testcase>`` per result.

Mapping of the five outcomes onto what every JUnit consumer (Jenkins, GitLab, GitHub test
reporters) understands: *fail* -> ``<failure>``, *error* -> ``<error>``, *unsupported* ->
``<skipped message=reason>`` (never a pass), *deviation* -> a passing test case with the property
``outcome=deviation`` and the explanation in ``<system-out>`` (nothing leaked, but a reader should
see it). Every test case carries ``outcome``, ``severity`` and ``spec`` properties.

Broker-provided text can hold characters XML 1.0 cannot represent (NUL, most C0 controls,
lone surrogates); they are written as ``\\xNN``/``\\uNNNN`` escapes so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

from mqttsec.reports.loader import Report
from mqttsec.reports.results import Outcome, ScenarioResult

__all__ = ["render_junit"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_MAX = 200


def _xml_text(text: str) -> str:
    """*text* with every character XML 1.0 cannot hold replaced by a visible escape."""
    return _NOT_XML.sub(lambda m: repr(m.group())[1:-1], text)


def _message(detail: str, fallback: str) -> str:
    """A one-line message attribute: the first line of the detail, shortened."""
    line = detail.strip().splitlines()[0] if detail.strip() else fallback
    return _xml_text(line if len(line) <= _MESSAGE_MAX else line[: _MESSAGE_MAX - 1] + "…")


def _case_name(result: ScenarioResult, duplicate: bool) -> str:
    version = f" [MQTT {result.mqtt_version}]" if result.mqtt_version else ""
    name = f"{result.scenario}{version}"
    if duplicate and result.test:  # one scenario checked by several tests: keep names unique
        name += f" ({result.test.rsplit('::', 1)[-1]})"
    return name


def _testcase(parent: ET.Element, result: ScenarioResult, duplicate: bool) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        name=_xml_text(_case_name(result, duplicate)),
        classname=_xml_text(f"{result.target or 'mqttsec'}.{result.family}"),
        time=f"{result.duration_s:.3f}",
    )
    if result.test and "::" in result.test:
        case.set("file", _xml_text(result.test.split("::", 1)[0]))
    props = ET.SubElement(case, "properties")
    for name, value in (
        ("outcome", result.outcome.value),
        ("severity", result.severity),
        ("spec", " ".join(result.spec)),
        ("test", result.test),
    ):
        if value:
            ET.SubElement(props, "property", name=name, value=_xml_text(value))
    detail = _xml_text(result.detail)
    if result.outcome is Outcome.FAIL:
        node = ET.SubElement(case, "failure", type="fail")
        node.set("message", _message(result.detail, "security property violated"))
        node.text = detail
    elif result.outcome is Outcome.ERROR:
        node = ET.SubElement(case, "error", type="error")
        node.set("message", _message(result.detail, "harness error"))
        node.text = detail
    elif result.outcome is Outcome.UNSUPPORTED:
        ET.SubElement(case, "skipped", message=_message(result.detail, "unsupported"))
    elif result.outcome is Outcome.DEVIATION:
        out = ET.SubElement(case, "system-out")
        out.text = f"mqttsec deviation (spec behaviour differs, nothing leaked): {detail}"


def render_junit(report: Report) -> str:
    """The report as a JUnit XML document (UTF-8, with an XML declaration)."""
    by_target: dict[str, list[ScenarioResult]] = {t: [] for t in report.target_names}
    for result in report.results:
        by_target[result.target].append(result)
    root = ET.Element("testsuites", name="mqttsec")
    totals: Counter[str] = Counter()
    for target, results in by_target.items():
        counts = Counter(r.outcome for r in results)
        seconds = sum(r.duration_s for r in results)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_xml_text(target or "mqttsec"),
            tests=str(len(results)),
            failures=str(counts[Outcome.FAIL]),
            errors=str(counts[Outcome.ERROR]),
            skipped=str(counts[Outcome.UNSUPPORTED]),
            time=f"{seconds:.3f}",
        )
        if report.started is not None:
            suite.set("timestamp", report.started.isoformat(timespec="seconds"))
        props = ET.SubElement(suite, "properties")
        info = report.targets.get(target, {})
        for name, value in (
            ("mqttsec.version", report.tool_version),
            ("mqttsec.kind", report.kind),
            ("profile", report.profile.get("name", "")),
            ("target.version", str(info.get("version", "") or "")),
            ("deviations", str(counts[Outcome.DEVIATION])),
        ):
            if value:
                ET.SubElement(props, "property", name=name, value=_xml_text(value))
        seen = Counter((r.scenario, r.mqtt_version) for r in results)
        for result in results:
            _testcase(suite, result, seen[(result.scenario, result.mqtt_version)] > 1)
        totals.update(
            tests=len(results),
            failures=counts[Outcome.FAIL],
            errors=counts[Outcome.ERROR],
            skipped=counts[Outcome.UNSUPPORTED],
        )
        totals["ms"] += round(seconds * 1000)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", f"{totals['ms'] / 1000:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
