"""The HTML report in a real headless Chromium: the matrix renders and the filters (read from the
URL fragment) hide exactly the rows they should."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from html_dom import cells, matrix_rows, read_page

from mqttsec.reports import write_reports

pytestmark = pytest.mark.browser


def _dump_dom(chromium: Path, page: Path, fragment: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, as Chromium serializes it."""
    proc = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",  # own profile: parallel runs do not share a lock
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<table" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def test_filters_from_the_fragment_apply_in_chromium(
    chromium: Path, results_file: Path, tmp_path: Path
) -> None:
    html = write_reports(results_file, tmp_path / "out", formats=("html",))["html"]
    fragment = "#outcome=fail,error&severity=critical,high,low&family=acl,auth,robustness"
    page = read_page(_dump_dom(chromium, html, fragment, tmp_path / "profile"))

    # The script ran: it recorded the number of shown rows and wrote the count.
    (root,) = page.find("html")
    assert root.attrs.get("data-shown") == "3"
    (shown,) = [n for n in page.all if n.attrs.get("id") == "shown"]
    assert shown.text == "3 of 6 rows"

    rows = matrix_rows(page)
    assert len(rows) == 6 and all(len(cells(r)) == 3 for r in rows)  # the matrix rendered
    visible = [
        (r.attrs["data-scenario"], r.children[2].text) for r in rows if "hidden" not in r.attrs
    ]
    # fail/error rows, minus ROB (medium severity) and TLS (family filtered out)
    assert visible == [
        ("ACL-WILDCARD-ALL", "3.1.1"),
        ("ACL-WILDCARD-ALL", "5.0"),
        ("AUTH-EMPTY-PASSWORD", "3.1.1"),
    ]
    families = {r.attrs["data-family"]: "hidden" in r.attrs for r in page.find("tr", "family")}
    assert families == {"acl": False, "auth": False, "robustness": True, "tls": True}
    # Cells of an outcome not selected are dimmed in the visible rows; selected ones are not.
    auth = next(r for r in rows if r.attrs["data-scenario"] == "AUTH-EMPTY-PASSWORD")
    dims = {c.classes[1]: "dim" in c.classes for c in cells(auth)}
    assert dims == {"o-error": False, "o-deviation": True, "o-pass": True}
