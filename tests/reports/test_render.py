"""write_reports: the entry point `mqttsec run` calls after a run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mqttsec.reports import FILE_NAMES, ReportError, render, write_reports
from mqttsec.reports.loader import load_results


def test_writes_every_format_by_default(results_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "nested"
    written = write_reports(results_file, out)
    assert written == {
        "junit": out / "junit.xml",
        "md": out / "report.md",
        "html": out / "report.html",
    }
    ET.parse(written["junit"])
    assert written["md"].read_text(encoding="utf-8").startswith("## mqttsec: ❌")
    assert "ACL-WILDCARD-ALL" in written["html"].read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == sorted(FILE_NAMES.values())  # no temp files


def test_writes_only_the_formats_asked(results_file: Path, tmp_path: Path) -> None:
    written = write_reports(results_file, tmp_path / "o", formats=("html", "html"))
    assert list(written) == ["html"]
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["report.html"]


def test_unknown_format_is_refused_before_writing(results_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"format: 'pdf' is not a report format; use one of"):
        write_reports(results_file, tmp_path / "o", formats=("md", "pdf"))
    assert not (tmp_path / "o").exists()


def test_bad_results_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such file"):
        write_reports(tmp_path / "missing.json", tmp_path / "o")


def test_unwritable_output(results_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match=r"cannot write reports .*; choose a writable directory"):
        write_reports(results_file, blocker / "sub")


def test_render_matches_the_written_file(results_file: Path, tmp_path: Path) -> None:
    written = write_reports(results_file, tmp_path, formats=("md",))
    assert written["md"].read_text(encoding="utf-8") == render(load_results(results_file), "md")
