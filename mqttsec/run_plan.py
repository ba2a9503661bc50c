"""A checked run of the scenario catalogue (:class:`RunPlan`) and the pytest child process
that carries it out for ``mqttsec run`` and ``mqttsec compare``.

The child is the plugin run a user would type (``pytest --pyargs mqttsec.suites
--mqtt-target ...``) with pytest-xdist workers. Running it as a child keeps pytest's module
state out of the CLI process and lets the whole run (pytest, its workers, their brokers: one
process group) be stopped at the time limit or on Ctrl-C. An empty ``pytest.ini`` of its own
keeps the configuration of whatever directory the user is in out of the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mqttsec.errors import MQTTSecError
from mqttsec.reports.results import ScenarioResult, write_json_atomic
from mqttsec.run_summary import load_rows

__all__ = [
    "REPORT_FORMATS",
    "SUITES",
    "RunOutcome",
    "RunPlan",
    "default_workers",
    "execute",
    "pytest_command",
]

SUITES = "mqttsec.suites"
REPORT_FORMATS: tuple[str, ...] = ("junit", "md", "html")

# pytest's exit codes (pytest.ExitCode), for the messages below.
_PYTEST_MESSAGES = {
    2: "pytest was interrupted or could not collect the scenarios (see its output above)",
    3: "pytest hit an internal error (see its output above)",
    4: "pytest refused the arguments (see its message above)",
    5: "no scenario matched the selection; check -k / --family",
}


_PYTEST_INI = """\
[pytest]
markers =
    slow: a scenario that takes long
    fuzz: a hypothesis fuzzing scenario
"""
"""The child's whole pytest configuration: the markers scenarios may carry, nothing else."""


@dataclass(frozen=True)
class RunPlan:
    """One checked run: what to run against what, and where the results go.

    Attributes:
        targets: target specs, in the order given (``reference``, ``local:mosquitto``...).
        profile: the security profile file, None for the default profile.
        report_dir: where results.json and the reports are written.
        packages: the scenario packages to collect (``mqttsec.suites`` or families of it).
        keyword: pytest ``-k`` expression (also matches scenario ids), or None.
        workers: pytest-xdist worker processes; 0 runs in the pytest process itself.
        group_by_target: run each target's scenarios on one worker (``--dist loadgroup``),
            so each broker starts once rather than once per worker; chosen when there are
            more targets than workers (with fewer, spreading every target balances better).
        pytest_args: extra pytest arguments (after ``--``), appended last so they win.
        time_limit: seconds the whole run may take before it is stopped.
    """

    targets: tuple[str, ...]
    profile: Path | None
    report_dir: Path
    packages: tuple[str, ...] = (SUITES,)
    keyword: str | None = None
    workers: int = 0
    group_by_target: bool = False
    pytest_args: tuple[str, ...] = ()
    time_limit: float = 3600.0


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run left: its rows, pytest's exit code and the files written."""

    rows: list[ScenarioResult]
    pytest_exit: int
    results: Path
    reports: dict[str, Path]


def default_workers() -> int:
    """Workers when ``--workers`` is not given: two per CPU, at least 2 and at most 8.

    Scenarios mostly wait (on sockets, on a broker's timeouts), not compute: against
    mosquitto two workers on two cores used about 40% of the CPU, and four were faster.
    More than eight mostly multiplies broker starts (each worker starts its own brokers).
    """
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def pytest_command(plan: RunPlan, ini: Path) -> list[str]:
    """The child's command line. *ini* is the run's own ``pytest.ini`` (markers only), so
    the configuration of whatever directory the user is in does not reach the run."""
    command = [sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(ini.parent)]
    command += ["--pyargs", *plan.packages]
    command += [f"--mqtt-target={spec}" for spec in plan.targets]
    command += [f"--mqtt-report-dir={plan.report_dir}", "--require-targets"]
    if plan.profile is not None:
        command.append(f"--mqtt-profile={plan.profile}")
    command += ["-p", "mqttsec.run_plugin", "-p", "no:cacheprovider", "-p", "no:benchmark"]
    command += ["-q", "--tb=no", "-rN"]
    if plan.workers:
        dist = "loadgroup" if plan.group_by_target else "load"
        command += ["-n", str(plan.workers), "--dist", dist]
    else:
        command += ["-p", "no:xdist"]
    if plan.keyword:
        command += ["-k", plan.keyword]
    return command + list(plan.pytest_args)


def _run_child(command: list[str], time_limit: float) -> int:
    """Run pytest in its own process group; stop the group at the limit or on Ctrl-C."""
    child = subprocess.Popen(command, start_new_session=True)
    try:
        return child.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        _stop_group(child)
        raise MQTTSecError(
            f"the run took longer than --time-limit {time_limit:g} s and was stopped"
        ) from None
    except KeyboardInterrupt:
        _stop_group(child)
        raise


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """Stop the child's process group (pytest and its workers): SIGINT first, so pytest
    tears its fixtures down and stops the brokers it started (they run in process groups
    of their own); SIGTERM, then SIGKILL, if it has not ended 10 seconds later."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def _write_reports(results: Path, out_dir: Path) -> dict[str, Path]:
    """Render every report from *results*; the renderers are imported only now."""
    try:
        from mqttsec.reports import write_reports
    except ImportError:
        print("mqttsec: note: the report renderers are not installed; only results.json written")
        return {}
    return dict(write_reports(results, out_dir, formats=REPORT_FORMATS))


def _strip_group_suffix(results: Path) -> None:
    """Under ``--dist loadgroup`` xdist appends ``@<group>`` to node ids; take it off the
    rows' ``test`` so each is again a node id pytest accepts."""
    try:
        document = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # load_rows() says what is wrong with the file
    for row in document.get("results", []):
        suffix = f"@{row.get('target', '')}"
        if isinstance(row.get("test"), str) and row["test"].endswith(suffix):
            row["test"] = row["test"].removesuffix(suffix)
    write_json_atomic(results, document)


def execute(plan: RunPlan) -> RunOutcome:
    """Run the plan's pytest child, then write the reports from its results.json.

    Raises:
        MQTTSecError: pytest could not run the scenarios (bad pytest arguments, nothing
            selected, collection error), wrote no results, or hit the time limit.
    """
    results = plan.report_dir / "results.json"
    results.unlink(missing_ok=True)  # never read a previous run's file as this one's
    with tempfile.TemporaryDirectory(prefix="mqttsec-run-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text(_PYTEST_INI, encoding="utf-8")
        code = _run_child(pytest_command(plan, ini), plan.time_limit)
    if code not in (0, 1):
        raise MQTTSecError(_PYTEST_MESSAGES.get(code, f"pytest exited with code {code}"))
    if plan.group_by_target:
        _strip_group_suffix(results)
    rows = load_rows(results)
    return RunOutcome(rows, code, results, _write_reports(results, plan.report_dir))
