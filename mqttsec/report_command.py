"""``mqttsec report results.json --format md|html|junit [--output FILE]``: render a results file.

Markdown and JUnit go to stdout unless ``--output`` is given (so they pipe into a PR-comment or
CI step); HTML is a page to open, so it is written to ``--output`` or to ``report.html`` next to
the results file, and its path is printed. Exit codes follow the CLI's: 0 written, 2 the results
file or the output cannot be used (one line on stderr naming the file, key and fix). Rendering
never judges the run: gating on outcomes is ``mqttsec run``'s job.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mqttsec.reports.loader import ReportError, load_results
from mqttsec.reports.render import FILE_NAMES, FORMATS, render

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``mqttsec report`` (separate so tests and help can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="mqttsec report",
        description="Render a results.json (from `mqttsec run`, `compare`, `smoke` or "
        "`pytest --mqtt-report-dir`) as Markdown, a self-contained HTML matrix, or JUnit XML.",
    )
    parser.add_argument("results", type=Path, help="the results.json to render")
    parser.add_argument(
        "-f",
        "--format",
        choices=tuple(FORMATS),
        default="md",
        help="md: for a PR comment (default); html: the filterable matrix page; junit: for CI",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="file to write; default: stdout for md/junit, report.html beside the results "
        "file for html ('-' is stdout for every format)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mqttsec report``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    results: Path = args.results
    output: Path | None = args.output
    try:
        text = render(load_results(results), args.format)
    except ReportError as exc:
        print(f"mqttsec report: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if output is None and args.format == "html":
        output = results.parent / FILE_NAMES["html"]
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return EXIT_OK
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(
            f"mqttsec report: error: {output}: cannot write it ({exc.strerror or exc}); "
            "choose a writable --output",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(f"mqttsec report: {args.format} written to {output}", file=sys.stderr)
    return EXIT_OK
