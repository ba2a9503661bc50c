"""Render a results file into report files: the one entry point ``mqttsec run`` and
``mqttsec report`` share.

Formats and their file names: ``junit`` -> ``junit.xml``, ``md`` -> ``report.md``, ``html`` ->
``report.html``. The results file is loaded and validated once (:func:`load_results`), then each
renderer writes its file atomically, so a reader never sees half a report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from mqttsec.reports.html import render_html
from mqttsec.reports.junit import render_junit
from mqttsec.reports.loader import Report, ReportError, load_results
from mqttsec.reports.markdown import render_markdown

__all__ = ["FILE_NAMES", "FORMATS", "render", "write_reports"]

FORMATS: dict[str, Callable[[Report], str]] = {
    "junit": render_junit,
    "md": render_markdown,
    "html": render_html,
}
"""Renderer per format name (the names ``mqttsec report --format`` accepts)."""

FILE_NAMES: dict[str, str] = {"junit": "junit.xml", "md": "report.md", "html": "report.html"}
"""The file each format is written to by :func:`write_reports`."""


def _check_format(fmt: str, source: str) -> None:
    if fmt not in FORMATS:
        raise ReportError(
            source, "format", f"{fmt!r} is not a report format", f"use one of {', '.join(FORMATS)}"
        )


def render(report: Report, fmt: str) -> str:
    """The report in format *fmt* (a key of :data:`FORMATS`) as text.

    Raises:
        ReportError: *fmt* is not a known format.
    """
    _check_format(fmt, report.source)
    return FORMATS[fmt](report)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_reports(
    results_path: Path, out_dir: Path, formats: Iterable[str] = ("junit", "md", "html")
) -> dict[str, Path]:
    """Render *results_path* into *out_dir* (created if needed) in each of *formats*.

    Returns:
        The written file per format, e.g. ``{"html": out_dir / "report.html"}``.

    Raises:
        ReportError: the results file is missing or invalid, a format is unknown, or a report
            cannot be written.
    """
    wanted = list(dict.fromkeys(formats))
    for fmt in wanted:
        _check_format(fmt, str(results_path))
    report = load_results(results_path)
    written: dict[str, Path] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for fmt in wanted:
            path = out_dir / FILE_NAMES[fmt]
            _write_atomic(path, FORMATS[fmt](report))
            written[fmt] = path
    except OSError as exc:
        raise ReportError(
            str(out_dir),
            "",
            f"cannot write reports ({exc.strerror or exc})",
            "choose a writable directory",
        ) from None
    return written
