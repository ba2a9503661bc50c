"""What ``mqttsec run``/``compare`` do before any scenario runs, in process: bad input is one
``mqttsec: error:`` line and exit 2; the pytest command line carries the plan; and the
summary's exit policy (fail and error fail a run, deviation only with --strict, unsupported
never) and its view of a target that could not be used."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mqttsec.cli import main
from mqttsec.compare_command import print_differences
from mqttsec.reports.results import Outcome, ScenarioResult
from mqttsec.run_plan import RunPlan, pytest_command
from mqttsec.run_summary import failing, print_failures, print_table, unusable_targets


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--target", "local:nosuch"], "unknown target 'local:nosuch'; known targets:"),
        (["run", "--profile", "missing.toml"], "missing.toml: file not found"),
        (["run", "--family", "nosuch"], "--family nosuch: no such scenario family"),
        (["run", "--workers", "-1"], "--workers -1: use 0 (no xdist) or more"),
        (["run", "--time-limit", "0"], "--time-limit 0: use a positive number of seconds"),
        (["compare", "--target", "reference"], "compare needs two or more targets"),
        (["compare", "--target", "nosuch", "--target", "reference"], "unknown target 'nosuch'"),
    ],
)
def test_bad_input_is_one_error_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mqttsec: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_profile_with_an_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.toml").write_text('name = "p"\nallow_anonymous = "maybe"\n')
    assert main(["run", "--profile", "p.toml"]) == 2
    assert capsys.readouterr().err.startswith("mqttsec: error: p.toml:2:")


def test_the_pytest_command_carries_the_plan(tmp_path: Path) -> None:
    plan = RunPlan(
        targets=("reference", "local:mosquitto", "local:amqtt"),
        profile=tmp_path / "p.toml",
        report_dir=tmp_path / "out",
        packages=("mqttsec.suites.acl",),
        keyword="ACL-WILDCARD",
        workers=2,
        group_by_target=True,
        pytest_args=("--tb=short",),
    )
    command = pytest_command(plan, tmp_path / "pytest.ini")
    joined = " ".join(command)
    for part in (
        "-c " + str(tmp_path / "pytest.ini"),
        "--pyargs mqttsec.suites.acl",
        "--mqtt-target=reference --mqtt-target=local:mosquitto --mqtt-target=local:amqtt",
        f"--mqtt-report-dir={tmp_path / 'out'}",
        f"--mqtt-profile={tmp_path / 'p.toml'}",
        "-p mqttsec.run_plugin",
        "-n 2 --dist loadgroup",
        "-k ACL-WILDCARD",
    ):
        assert part in joined
    assert command[-1] == "--tb=short"  # the user's pytest arguments come last, so they win
    serial = pytest_command(RunPlan(("reference",), None, tmp_path), tmp_path / "pytest.ini")
    assert "-n" not in serial and "no:xdist" in serial and "-k" not in serial


def row(outcome: Outcome, target: str = "reference", scenario: str = "X-1") -> ScenarioResult:
    return ScenarioResult(scenario, "acl", "high", target, "5.0", outcome, detail=f"{outcome} why")


def test_exit_policy() -> None:
    rows = [row(o) for o in Outcome]
    assert {r.outcome for r in failing(rows, strict=False)} == {Outcome.FAIL, Outcome.ERROR}
    assert {r.outcome for r in failing(rows, strict=True)} == {
        Outcome.FAIL,
        Outcome.ERROR,
        Outcome.DEVIATION,
    }
    assert failing([row(Outcome.PASS), row(Outcome.UNSUPPORTED)], strict=True) == []


def test_a_target_is_unusable_only_when_every_scenario_errored() -> None:
    rows = [
        row(Outcome.ERROR, "local:a", "X-1"),
        row(Outcome.ERROR, "local:a", "X-2"),
        row(Outcome.ERROR, "local:b", "X-1"),
        row(Outcome.PASS, "local:b", "X-2"),
    ]
    assert unusable_targets(rows) == {"local:a": "error why"}


def test_the_summary_counts_and_lists_every_non_pass() -> None:
    rows = [row(o, scenario=f"X-{o.value}") for o in Outcome]
    out = io.StringIO()
    print_table(out, rows, by_family=True)
    print_failures(out, rows)
    text = out.getvalue()
    assert "reference / acl" in text and "reference (all)" in text
    header, _, acl, _ = text.splitlines()[:4]
    assert header.split() == [
        "TARGET",
        "TOTAL",
        "PASS",
        "FAIL",
        "ERROR",
        "DEVIATION",
        "UNSUPPORTED",
    ]
    assert acl.split()[-6:] == ["5", "1", "1", "1", "1", "1"]
    for outcome in ("FAIL", "ERROR", "DEVIATION"):
        assert f"{outcome:<9} X-{outcome.lower()} [reference 5.0] {outcome.lower()} why" in text
    assert "UNSUPPORTED x1 [reference] unsupported why" in text


def test_compare_lists_where_targets_differ_counting_a_scenarios_worst_row() -> None:
    rows = [
        row(Outcome.PASS, "reference", "X-SAME"),
        row(Outcome.PASS, "local:m", "X-SAME"),
        row(Outcome.PASS, "reference", "X-PARAM"),
        row(Outcome.PASS, "local:m", "X-PARAM"),
        row(Outcome.FAIL, "local:m", "X-PARAM"),  # a second variant of the same scenario
        row(Outcome.PASS, "local:m", "X-PARAM"),
    ]
    out = io.StringIO()
    print_differences(out, rows)
    lines = out.getvalue().strip().splitlines()
    assert lines == [
        "1 of 2 scenario/version rows differ between targets",
        "  X-PARAM 5.0: local:m FAIL, reference pass",
    ]
