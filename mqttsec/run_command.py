"""``mqttsec run``: the scenario catalogue against one or more targets, ``results.json`` and
every report in one directory, and an exit code a CI job can gate on.

This module checks what the user gave and prints the summary; :mod:`mqttsec.run_plan` runs
the plugin in a pytest child process with pytest-xdist workers. User errors (an unknown
target, a missing profile, a broker that will not start) end with one ``mqttsec: error:``
message and exit 2, never a traceback. :mod:`mqttsec.compare_command` is the same run with a different summary.

Exit codes: 0 nothing failed (deviations and unsupported scenarios are listed but do not
fail a run unless ``--strict``); 1 a scenario failed or errored; 2 the run could not happen.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mqttsec import __version__
from mqttsec.errors import ConfigError, MQTTSecError, TargetError
from mqttsec.reports.results import ScenarioResult
from mqttsec.run_plan import SUITES, RunOutcome, RunPlan, default_workers, execute
from mqttsec.run_summary import failing, print_failures, print_table, unusable_targets

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_OK",
    "add_common_options",
    "launch",
    "main",
    "plan_from_args",
    "print_files",
    "split_pytest_args",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


def split_pytest_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``[mqttsec options] -- [pytest args]`` -> (options, pytest args)."""
    items = list(argv)
    if "--" in items:
        index = items.index("--")
        return items[:index], items[index + 1 :]
    return items, []


def add_common_options(parser: argparse.ArgumentParser, default_dir: str) -> None:
    """The options ``run`` and ``compare`` share (``--target`` is added by each)."""
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="P",
        help="security profile TOML (default: the shipped profile)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path(default_dir),
        metavar="D",
        help=f"where results.json and the reports go (default: ./{default_dir})",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="pytest -k expression over test names and scenario ids",
    )
    parser.add_argument(
        "--family",
        action="append",
        metavar="NAME",
        help="run only this scenario family (repeatable; e.g. acl, auth, tls)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"pytest-xdist worker processes (default here: {default_workers()}; 0: none)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="stop the run after this long (default 3600)",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqttsec run",
        description="Run the security scenarios against one or more targets, write "
        "results.json and the JUnit, Markdown and HTML reports, and exit 0 only if no "
        "scenario failed or errored. Arguments after -- go to pytest.",
        epilog="Deviations and unsupported scenarios are listed but do not fail the run "
        "(--strict: deviations do). Exit codes: 0 passed, 1 a scenario failed or errored, "
        "2 the run could not happen.",
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="T",
        help="target (repeatable; default: reference); see `mqttsec targets`",
    )
    add_common_options(parser, "mqttsec-report")
    parser.add_argument(
        "--strict", action="store_true", help="deviations from the spec fail the run too"
    )
    return parser


def _check_targets(specs: Sequence[str]) -> None:
    """Refuse an unknown or uninstalled target before anything starts."""
    from mqttsec.fixtures.targets import get_target

    for spec in specs:
        target = get_target(spec)  # TargetError naming the known ones
        installation = type(target).probe()
        if not installation.installed:
            raise TargetError(
                f"not installed here: {installation.detail} (see `mqttsec targets`)", target=spec
            )


def _check_profile(path: Path | None) -> Path | None:
    """The profile as an absolute path, after loading it once (ProfileError names the line)."""
    if path is None:
        return None
    from mqttsec.fixtures.profile import load_profile

    load_profile(path)
    return path.resolve()


def _check_families(families: Sequence[str] | None) -> tuple[str, ...]:
    if not families:
        return (SUITES,)
    packages = []
    for family in families:
        package = f"{SUITES}.{family}"
        if "." in family or importlib.util.find_spec(package) is None:
            raise ConfigError(f"--family {family}: no such scenario family (see suites/)")
        packages.append(package)
    return tuple(packages)


def _check_report_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--report-dir {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--report-dir {path}: cannot create it ({exc.strerror})") from None
    return path.resolve()


def plan_from_args(
    args: argparse.Namespace, targets: Sequence[str], pytest_args: Sequence[str]
) -> RunPlan:
    """Check every input a user gave (targets, profile, families, directory) and make the
    plan; raises an :class:`~mqttsec.errors.MQTTSecError` naming the bad one."""
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers {args.workers}: use 0 (no xdist) or more")
    if args.time_limit <= 0:
        raise ConfigError(f"--time-limit {args.time_limit:g}: use a positive number of seconds")
    _check_targets(targets)
    profile = _check_profile(args.profile)
    packages = _check_families(args.family)
    workers = default_workers() if args.workers is None else args.workers
    if workers and importlib.util.find_spec("xdist") is None:
        print("mqttsec: note: pytest-xdist is not installed; running in one process", flush=True)
        workers = 0
    return RunPlan(
        targets=tuple(targets),
        profile=profile,
        report_dir=_check_report_dir(args.report_dir),
        packages=packages,
        keyword=args.keyword,
        workers=workers,
        group_by_target=workers > 0 and len(targets) > workers,
        pytest_args=tuple(pytest_args),
        time_limit=args.time_limit,
    )


def _raise_for_unusable(rows: Sequence[ScenarioResult]) -> None:
    """A target on which every scenario errored could not be used: exit 2 with its error
    (which for a broker that would not start ends with the broker's log)."""
    for target, detail in unusable_targets(rows).items():
        raise TargetError(f"could not be used, every scenario errored:\n{detail}", target=target)


def print_files(outcome: RunOutcome) -> None:
    """Where the results and the reports are."""
    files = {"results": outcome.results, **outcome.reports}
    print("\nwritten: " + ", ".join(f"{name} {path}" for name, path in files.items()))


def launch(
    command: str,
    args: argparse.Namespace,
    pytest_args: Sequence[str],
    targets: Callable[[], list[str]],
    *,
    check: Callable[[RunOutcome], None] | None = None,
) -> RunOutcome | int:
    """Check what the user gave, say what runs, run it and *check* the outcome: the part of
    ``mqttsec run`` and ``mqttsec compare`` that is the same, so both fail the same way.

    *targets* is called inside, so its ConfigError is reported like any other input's.
    Returns the outcome, or the exit code when the run could not happen: 2 with one
    ``mqttsec: error:`` line (never a traceback), 130 on Ctrl-C.
    """
    try:
        plan = plan_from_args(args, targets(), pytest_args)
        print(
            f"mqttsec {__version__} {command}: {', '.join(plan.targets)}; profile "
            f"{plan.profile or 'default'}; {plan.workers or 'no'} xdist workers",
            flush=True,
        )
        outcome = execute(plan)
        if check is not None:
            check(outcome)
    except MQTTSecError as exc:
        print(f"mqttsec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    print()
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    """``mqttsec run [options] [-- pytest args]``; returns the exit code."""
    options, extra = split_pytest_args(sys.argv[1:] if argv is None else argv)
    args = _build_parser().parse_args(options)
    outcome = launch(
        "run",
        args,
        extra,
        lambda: list(dict.fromkeys(args.target or ["reference"])),
        check=lambda done: _raise_for_unusable(done.rows),
    )
    if isinstance(outcome, int):
        return outcome
    print_table(sys.stdout, outcome.rows, by_family=True)
    print_failures(sys.stdout, outcome.rows)
    print_files(outcome)
    bad = failing(outcome.rows, strict=args.strict)
    if bad or outcome.pytest_exit != 0:
        what = f"{len(bad)} failing result(s)" if bad else "pytest reported a failure"
        print(f"FAILED: {what}")
        return EXIT_FAILED
    print(f"PASSED: {len(outcome.rows)} results, nothing failed")
    return EXIT_OK
