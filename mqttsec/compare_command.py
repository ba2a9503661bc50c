"""``mqttsec compare``: every scenario on several targets in one pytest-xdist run, one
``results.json`` with a row per scenario, target and MQTT version, and one matrix report.

The run is :mod:`mqttsec.run_command`'s; with more targets than workers each target's
scenarios stay on one worker (``--dist loadgroup``), so every broker starts once rather than
once per worker; with fewer, every worker runs every target, which balances better. A comparison is for reading, not gating: it exits 0 once the
matrix is written whatever the brokers did (gate with ``mqttsec run``), and 2 when it could
not run or a target could not be used at all (the other targets' rows are still written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from mqttsec.errors import ConfigError
from mqttsec.reports.results import Outcome, ScenarioResult
from mqttsec.run_command import (
    EXIT_ERROR,
    EXIT_OK,
    add_common_options,
    launch,
    print_files,
    split_pytest_args,
)
from mqttsec.run_summary import print_table, unusable_targets

__all__ = ["installed_targets", "main", "print_differences"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqttsec compare",
        description="Run every scenario on each target in parallel (pytest-xdist) and write one "
        "results.json and one scenario x target matrix (HTML, Markdown, JUnit). Arguments "
        "after -- go to pytest.",
        epilog="Exit codes: 0 the matrix was written (whatever the brokers did), 2 the "
        "comparison could not run or a target could not be used.",
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="T",
        help="target (give two or more; default: every target installed here but endpoint)",
    )
    add_common_options(parser, "mqttsec-compare")
    return parser


def installed_targets() -> list[str]:
    """Every registered target installed here, except ``endpoint`` (it needs a URL)."""
    from mqttsec.fixtures.targets import all_targets

    return [cls.name for cls in all_targets() if cls.name != "endpoint" and cls.probe().installed]


def print_differences(out: TextIO, rows: Sequence[ScenarioResult], *, limit: int = 30) -> None:
    """One line per scenario and MQTT version whose outcome is not the same on every target
    that ran it: where the brokers differ is what a comparison is for. A scenario with
    several rows per target and version (a parametrized test) counts with its worst."""
    cells: dict[tuple[str, str], dict[str, Outcome]] = {}
    for row in rows:
        cell = cells.setdefault((row.scenario, row.mqtt_version), {})
        seen = cell.get(row.target)
        if seen is None or row.outcome.rank > seen.rank:
            cell[row.target] = row.outcome
    differ = [(key, by) for key, by in sorted(cells.items()) if len(set(by.values())) > 1]
    print(f"\n{len(differ)} of {len(cells)} scenario/version rows differ between targets", file=out)
    for (scenario, version), by in differ[:limit]:
        outcomes = ", ".join(
            f"{target} {o.value if o is Outcome.PASS else o.value.upper()}"
            for target, o in sorted(by.items())
        )
        print(f"  {scenario} {version}: {outcomes}".rstrip(), file=out)
    if len(differ) > limit:
        print(f"  ... and {len(differ) - limit} more (see the matrix)", file=out)


def _targets(given: Sequence[str] | None) -> list[str]:
    """The targets to compare, once each: two or more, else a ConfigError saying so."""
    targets = list(dict.fromkeys(given or installed_targets()))
    if len(targets) < 2:
        raise ConfigError(
            f"compare needs two or more targets (got {', '.join(targets) or 'none'}); "
            "give --target T1 --target T2, or use `mqttsec run` for one"
        )
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    """``mqttsec compare [--target T ...] [options] [-- pytest args]``; the exit code."""
    options, extra = split_pytest_args(sys.argv[1:] if argv is None else argv)
    args = _build_parser().parse_args(options)
    outcome = launch("compare", args, extra, lambda: _targets(args.target))
    if isinstance(outcome, int):
        return outcome
    print_table(sys.stdout, outcome.rows, by_family=False)
    print_differences(sys.stdout, outcome.rows)
    print_files(outcome)
    unusable = unusable_targets(outcome.rows)
    for target, detail in unusable.items():
        print(
            f"mqttsec: error: {target}: could not be used, every scenario errored:\n{detail}",
            file=sys.stderr,
        )
    return EXIT_ERROR if unusable else EXIT_OK
