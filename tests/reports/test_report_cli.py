"""`mqttsec report results.json --format md|html|junit [--output FILE]`."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mqttsec.cli import main


def test_markdown_to_stdout_by_default(
    results_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(results_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("## mqttsec: ❌ 4 fail, 1 error\n") and err == ""


def test_junit_to_stdout_and_to_a_file(
    results_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(results_file), "--format", "junit"]) == 0
    stdout = capsys.readouterr().out
    assert ET.fromstring(stdout.encode()).get("tests") == "14"
    target = tmp_path / "ci" / "junit.xml"
    assert main(["report", str(results_file), "-f", "junit", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == stdout
    assert capsys.readouterr().err == f"mqttsec report: junit written to {target}\n"


def test_html_next_to_the_results_by_default(
    results_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(results_file), "--format", "html"]) == 0
    page = results_file.parent / "report.html"
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    out, err = capsys.readouterr()
    assert out == "" and str(page) in err


def test_html_to_stdout_with_dash(results_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(results_file), "--format", "html", "--output", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert not (results_file.parent / "report.html").exists()


def test_bad_results_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"schema": "mqttsec.results/1", "kind": "scenarios", "results": [{}]}')
    assert main(["report", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"mqttsec report: error: {bad}: results[0].outcome: None is not an ")


def test_unwritable_output_is_exit_2(
    results_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", str(results_file), "-o", str(blocker / "r.md")]) == 2
    assert "cannot write it" in capsys.readouterr().err


def test_unknown_format_is_a_usage_error(
    results_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(results_file), "--format", "pdf"]) == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err


def test_listed_in_help_and_runs_as_a_program(
    results_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "render a results.json as Markdown, HTML or JUnit XML" in capsys.readouterr().out
    proc = subprocess.run(
        [sys.executable, "-m", "mqttsec", "report", str(results_file), "--format", "md"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("## mqttsec: ")
