"""The HTML page: self-contained, escaped, the matrix, summaries, filters and metadata."""

from __future__ import annotations

import re
from pathlib import Path

from html_dom import cells, descendants, matrix_rows, read_page
from report_samples import EXPECTED, LEAK_DETAIL, SCRIPT, TARGETS

import mqttsec
from mqttsec.reports import load_results
from mqttsec.reports.html import render_html
from mqttsec.results import CheckResult, Outcome, RunResults, Target


def _html(results_file: Path) -> str:
    return render_html(load_results(results_file))


def test_self_contained(results_file: Path) -> None:
    html = _html(results_file)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"\b(src|href)\s*=", html), "no external resources"
    assert "<link" not in html and "url(" not in html and "@import" not in html
    assert html.count("<style>") == 1 and html.count("<script") == 1  # our own, inline


def test_broker_detail_is_escaped(results_file: Path) -> None:
    html = _html(results_file)
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    page = read_page(html)
    buttons = [b for b in page.find("button") if b.attrs.get("data-detail") == LEAK_DETAIL]
    assert len(buttons) == 2  # the detail survives intact as data for the panel (3.1.1, 5.0)
    assert all(LEAK_DETAIL[:40] in b.attrs["title"] for b in buttons)


def test_markup_in_names_is_escaped(tmp_path: Path) -> None:
    run = RunResults(kind="smoke", target=Target("<b>evil</b>", "127.0.0.1", 1883))
    run.results.append(CheckResult("SMOKE-<i>X</i>", "n", "5.0", Outcome.PASS))
    html = render_html(load_results(run.write(tmp_path)))
    assert "<b>evil" not in html and "<i>X" not in html
    assert "&lt;b&gt;evil&lt;/b&gt;" in html and "SMOKE-&lt;i&gt;X&lt;/i&gt;" in html
    assert "<h1>mqttsec smoke report</h1>" in html


def test_matrix_rows_and_cells(results_file: Path) -> None:
    page = read_page(_html(results_file))
    heads = [th.children[0].text for th in page.find("th", "c-target")]
    assert tuple(heads) == TARGETS
    rows = matrix_rows(page)
    got = {
        (r.attrs["data-scenario"], r.children[2].text.strip()): [
            c.classes[1].removeprefix("o-") for c in cells(r)
        ]
        for r in rows
    }
    assert got == {  # columns: local:amqtt, local:mosquitto, reference
        ("ACL-WILDCARD-ALL", "3.1.1"): ["pass", "fail", "pass"],
        ("ACL-WILDCARD-ALL", "5.0"): ["unsupported", "fail", "pass"],
        ("AUTH-EMPTY-PASSWORD", "3.1.1"): ["error", "deviation", "pass"],
        ("AUTH-EMPTY-PASSWORD", "5.0"): ["none", "deviation", "pass"],
        ("ROB-BAD-TOPIC", "3.1.1"): ["none", "none", "fail"],
        ("TLS-OLD-VERSIONS", "3.1.1"): ["none", "fail", "none"],
    }
    acl = rows[0]
    assert acl.attrs["data-family"] == "acl" and acl.attrs["data-severity"] == "critical"
    assert acl.attrs["data-outcomes"] == "fail pass"
    # Every outcome cell shows a symbol and a word, not only a colour.
    labels = {c.classes[1]: " ".join(c.text.split()) for r in rows for c in cells(r)}
    assert labels["o-fail"].startswith("✗ fail") and labels["o-pass"] == "✓ pass"
    assert labels["o-deviation"] == "▲ deviation" and labels["o-unsupported"] == "⊘ n/a"
    assert labels["o-error"] == "! error" and labels["o-none"] == "·"
    (rob,) = [c for c in cells(rows[4]) if "o-fail" in c.classes]
    assert "×2" in rob.text  # two tests behind one cell
    families = [th.text.strip() for th in page.find("tr", "family")]
    assert families == ["acl", "auth", "robustness", "tls"]


def test_summary_per_target(results_file: Path) -> None:
    page = read_page(_html(results_file))
    cards = {c.attrs["data-target"]: c for c in page.find("article", "card")}
    assert tuple(cards) == TARGETS
    for target, card in cards.items():
        items = [n for n in card.children[2].children if n.tag == "li"]
        counts = {
            li.attrs["title"].split(":")[0].split()[1]: li.attrs["title"].split()[0] for li in items
        }
        want = EXPECTED[target]
        assert counts == {k: str(v) for k, v in want.items() if k != "total"}, target


def test_filters_and_legend(results_file: Path) -> None:
    page = read_page(_html(results_file))
    groups = {g.attrs["data-filter"]: g for g in page.all if "data-filter" in g.attrs}
    values = {
        name: [n.attrs["value"] for n in descendants(group) if n.tag == "input"]
        for name, group in groups.items()
    }
    assert values == {
        "outcome": ["fail", "error", "deviation", "unsupported", "pass"],
        "family": ["acl", "auth", "robustness", "tls"],
        "severity": ["critical", "high", "medium", "low"],
    }
    legend = " ".join(page.find("div", "legend")[0].text.split())
    for word in ("fail", "error", "deviation", "unsupported", "pass", "not run"):
        assert word in legend


def test_run_metadata(results_file: Path) -> None:
    html = _html(results_file)
    (meta,) = read_page(html).find("dl", "meta")
    pairs = {div.children[0].text: div.children[1].text for div in meta.children}
    assert pairs == {
        "Profile": "ci-profile",
        "Started": "2026-01-02 03:04:05 UTC",
        "Duration": "12.0 s",
        "Results": "14 checks · 4 scenarios · 3 targets",
        "mqttsec": mqttsec.__version__,
        "Source": str(results_file),
    }
    assert ">v2.0.11<" in html and ">v0.12.1<" in html  # target versions on the cards
    assert '<span class="verdict v-fail" id="verdict">4 failed, 1 error(s)</span>' in html


def test_templates_are_package_data() -> None:
    """Every template file is matched by pyproject's package-data, so the wheel has it."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mqttsec.reports"]
    files = [
        p.relative_to(root / "reports").as_posix() for p in (root / "reports/templates").iterdir()
    ]
    assert "templates/report.html.j2" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
