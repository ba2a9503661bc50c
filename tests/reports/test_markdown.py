"""Markdown for PR comments: summary per target, findings with escaped detail, the matrix."""

from __future__ import annotations

from pathlib import Path

from report_samples import EXPECTED, write_sample

from mqttsec.reports import load_results
from mqttsec.reports.markdown import SYMBOLS, render_markdown
from mqttsec.reports.results import Outcome, ScenarioResult


def _md(results_file: Path, **options: int) -> str:
    return render_markdown(load_results(results_file), **options)


def test_heading_and_summary_per_target(results_file: Path) -> None:
    text = _md(results_file)
    assert text.startswith("## mqttsec: ❌ 4 fail, 1 error\n")
    assert "profile `ci-profile` · 2026-01-02 03:04 UTC · 12.0 s · mqttsec " in text
    for target, counts in EXPECTED.items():
        (line,) = [ln for ln in text.splitlines() if ln.startswith(f"| `{target}` |")]
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        order = ("fail", "error", "deviation", "unsupported", "pass")
        assert cells[2:] == [str(counts["total"])] + [str(counts[o]) for o in order], line


def test_findings_worst_first_with_detail(results_file: Path) -> None:
    text = _md(results_file)
    assert "### Findings (7)" in text
    findings = [ln for ln in text.splitlines() if ln.startswith("- ")]
    kinds = [ln.split("**")[1] for ln in findings]
    assert kinds == ["FAIL"] * 4 + ["ERROR"] + ["DEVIATION"] * 2
    assert findings[0].startswith(
        "- ❌ **FAIL** `ACL-WILDCARD-ALL` on `local:mosquitto` MQTT 3.1.1"
    )
    assert "(acl, critical · MQTT-4.7.1-1)" in findings[0]
    assert "CONNACK 0x87 where the spec says 0x86" in text
    assert "Unsupported" not in text and "does not speak MQTT 5.0" not in text  # not a finding


def test_detail_is_escaped(results_file: Path) -> None:
    text = _md(results_file)
    assert "<script>" not in text
    assert '&lt;script&gt;alert("pwned")&lt;/script&gt; &amp; &#64;admin \\| \\*bold\\*' in text
    assert "@admin" not in text
    assert "topic b'bad\\\\x00\\\\x1b\\[31m\\\\ud800' not refused" in text  # controls visible


def test_detail_and_findings_are_capped(results_file: Path) -> None:
    text = _md(results_file, max_detail=40, max_findings=3)
    assert "END-OF-LONG-DETAIL" not in _md(results_file)  # the 2000-char detail is cut
    assert "- … and 4 more (see report.html or junit.xml)" in text
    assert len([ln for ln in text.splitlines() if ln.startswith("- ❌")]) == 3
    assert 'LEAK: received &lt;script&gt;alert("pwned")&lt;/…' in text


def test_matrix_one_line_per_scenario(results_file: Path) -> None:
    text = _md(results_file)
    assert "<details><summary>Matrix: 4 scenarios × 3 target(s) (cells: MQTT 3.1.1/5.0)" in text
    assert "| Scenario | `local:amqtt` | `local:mosquitto` | `reference` |" in text
    rows = {ln.split("|")[1].strip(): ln for ln in text.splitlines() if ln.startswith("| `")}
    p, f, d, u, e = (
        SYMBOLS[o]
        for o in (Outcome.PASS, Outcome.FAIL, Outcome.DEVIATION, Outcome.UNSUPPORTED, Outcome.ERROR)
    )
    assert rows["`ACL-WILDCARD-ALL`"] == f"| `ACL-WILDCARD-ALL` | {p} {u} | {f} {f} | {p} {p} |"
    assert rows["`AUTH-EMPTY-PASSWORD`"] == f"| `AUTH-EMPTY-PASSWORD` | {e} · | {d} {d} | {p} {p} |"
    # one failing probe of two makes the cell fail; not run is "·"
    assert rows["`ROB-BAD-TOPIC`"] == f"| `ROB-BAD-TOPIC` | · · | · · | {f} · |"


def test_clean_run_has_no_findings_section(tmp_path: Path) -> None:
    row = ScenarioResult("ACL-X", "acl", "high", "reference", "5.0", Outcome.PASS)
    text = _md(write_sample(tmp_path, [row]))
    assert text.startswith("## mqttsec: ✅ passed\n")
    assert "Findings" not in text


def test_pr_comment_size_for_a_large_run(tmp_path: Path) -> None:
    """150 scenarios x 2 versions x 7 targets, a third failing with long details, fits a
    GitHub comment (65536 characters)."""
    targets = [f"local:broker{i}" for i in range(7)]
    rows = [
        ScenarioResult(
            f"ACL-SCENARIO-{n:03d}",
            "acl",
            "high",
            t,
            v,
            Outcome.FAIL if n % 3 == 0 else Outcome.PASS,
            detail="y" * 5000,
        )
        for n in range(150)
        for t in targets
        for v in ("3.1.1", "5.0")
    ]
    text = _md(write_sample(tmp_path, rows))
    assert len(text) < 65536, len(text)
    assert "- … and 650 more" in text
    assert "| `ACL-SCENARIO-149` |" in text  # the whole matrix still fits


def test_matrix_is_cut_to_fit_a_comment(tmp_path: Path) -> None:
    rows = [
        ScenarioResult(
            f"ACL-A-VERY-LONG-SCENARIO-IDENTIFIER-{n:04d}",
            "acl",
            "high",
            f"local:broker-with-a-long-name-{t}",
            "5.0",
            Outcome.PASS,
        )
        for n in range(1500)
        for t in range(7)
    ]
    text = _md(write_sample(tmp_path, rows))
    assert len(text) <= 60_000, len(text)
    assert text.rstrip().endswith("</details>")
    (more,) = [ln for ln in text.splitlines() if ln.startswith("| … ")]
    shown = len([ln for ln in text.splitlines() if ln.startswith("| `ACL-A-")])
    assert more.startswith(f"| … {1500 - shown} more |") and shown > 100
