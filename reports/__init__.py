"""mqttsec result model and report renderers.

``results.json`` (:mod:`mqttsec.reports.results`) is the one source a run leaves; the renderers
turn it into JUnit XML (:mod:`~mqttsec.reports.junit`), Markdown
(:mod:`~mqttsec.reports.markdown`) and a self-contained HTML matrix (:mod:`~mqttsec.reports.html`).
:func:`write_reports` writes them all; :func:`load_results` validates a file and raises
:class:`ReportError` naming the file, key and fix.
"""

from mqttsec.reports.loader import Report, ReportError, load_results
from mqttsec.reports.render import FILE_NAMES, FORMATS, render, write_reports

__all__ = [
    "FILE_NAMES",
    "FORMATS",
    "Report",
    "ReportError",
    "load_results",
    "render",
    "write_reports",
]
