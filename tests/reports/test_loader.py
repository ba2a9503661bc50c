"""The results loader: valid files load (both kinds), bad ones raise ReportError naming the
file, the key and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_samples import EXPECTED, TARGETS

from mqttsec.reports import Report, ReportError, load_results
from mqttsec.reports.results import Outcome
from mqttsec.results import CheckResult, RunResults, Target

Edit = Callable[[Callable[[dict[str, Any]], object]], Path]


def test_scenarios_file_loads(results_file: Path) -> None:
    report = load_results(results_file)
    assert report.kind == "scenarios"
    assert report.source == str(results_file)
    assert report.target_names == TARGETS
    assert report.profile == {"name": "ci-profile", "source": "profiles/ci.toml"}
    assert report.targets["local:mosquitto"]["version"] == "2.0.11"
    assert report.duration_s == 12.0
    assert len(report.results) == sum(c["total"] for c in EXPECTED.values())
    assert {r.outcome for r in report.results} == set(Outcome)


def test_lone_surrogate_becomes_an_escape(results_file: Path) -> None:
    report = load_results(results_file)
    (row,) = [r for r in report.results if "bad" in r.detail]
    assert "\\ud800" in row.detail
    row.detail.encode("utf-8")  # writable as UTF-8


def test_smoke_file_loads_as_family_smoke(tmp_path: Path) -> None:
    run = RunResults(kind="smoke", target=Target("reference", "127.0.0.1", 1883))
    run.results += [
        CheckResult("SMOKE-PUBSUB-QOS1", "pub/sub at QoS 1", "5.0", Outcome.PASS, "", 0.01),
        CheckResult("SMOKE-WILL", "will message", "3.1.1", Outcome.FAIL, "no will", 0.02),
    ]
    report = load_results(run.write(tmp_path))
    assert report.kind == "smoke"
    assert report.target_names == ("reference",)
    assert report.targets["reference"] == {"host": "127.0.0.1", "port": 1883}
    first, second = report.results
    assert (first.scenario, first.family, first.mqtt_version, first.test) == (
        "SMOKE-PUBSUB-QOS1",
        "smoke",
        "5.0",
        "pub/sub at QoS 1",
    )
    assert second.outcome is Outcome.FAIL and second.detail == "no will"
    assert second.duration_s == 0.02


def _set(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda doc: doc.__setitem__(key, value)


def _row(index: int, key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda doc: doc["results"][index].__setitem__(key, value)


def _drop(index: int, key: str) -> Callable[[dict[str, Any]], object]:
    return lambda doc: doc["results"][index].pop(key)


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (_set("schema", "other/2"), "schema", "expected 'mqttsec.results/1'"),
        (_set("kind", "audit"), "kind", "expected one of scenarios, smoke"),
        (_set("results", {}), "results", "expected a list of rows"),
        (_set("targets", []), "targets", "expected an object"),
        (_set("started", "yesterday"), "started", "not an ISO 8601 time"),
        (_row(2, "outcome", "passed"), "results[2].outcome", "use one of pass, fail"),
        (_row(0, "severity", "urgent"), "results[0].severity", "use one of critical, high"),
        (_row(1, "spec", "MQTT-1"), "results[1].spec", "expected a list of strings"),
        (_row(1, "duration_s", -1), "results[1].duration_s", "number of seconds"),
        (_row(3, "scenario", ""), "results[3].scenario", "is empty"),
        (_row(3, "target", 7), "results[3].target", "is int, expected a string"),
        (_drop(4, "family"), "results[4].family", "is missing"),
        (lambda doc: doc["results"].__setitem__(5, "x"), "results[5]", "expected an object"),
    ],
)
def test_bad_field_names_file_key_and_fix(
    edit_results: Edit, change: Callable[[dict[str, Any]], object], key: str, words: str
) -> None:
    path = edit_results(change)
    with pytest.raises(ReportError) as info:
        load_results(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert words in message
    assert info.value.key == key and info.value.source == str(path) and info.value.fix


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"results\.json: no such file; .*mqttsec run"):
        load_results(tmp_path / "results.json")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is a directory; give the results.json inside it"):
        load_results(tmp_path)


def test_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{\n  "schema": "mqttsec.results/1",\n  oops\n}', encoding="utf-8")
    with pytest.raises(ReportError, match=r"results\.json: line 3 column 3: not valid JSON"):
        load_results(path)


def test_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(ReportError, match="top level is list, not an object"):
        load_results(path)


def test_targets_only_named_by_rows_are_columns_too(edit_results: Edit) -> None:
    report = load_results(edit_results(_set("targets", {"reference": {}})))
    assert report.target_names == ("reference", "local:amqtt", "local:mosquitto")  # row order
    assert isinstance(report, Report)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(b'{"schema": "\xff"}')
    with pytest.raises(ReportError, match=r"results\.json: not UTF-8 text \(invalid start byte"):
        load_results(path)
