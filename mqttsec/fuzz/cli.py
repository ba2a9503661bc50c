"""``mqttsec fuzz``: fuzz a broker target with malformed input; rows into ``results.json``.

Exit codes as for every mqttsec command: 0 nothing failed, 1 a failure (crash or hang) or a
deviation was found, 2 the run could not happen (unknown target, broker not installed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mqttsec.errors import MQTTSecError
from mqttsec.fixtures.profile import load_profile
from mqttsec.reports.results import (
    Outcome,
    RunMetadata,
    ScenarioResult,
    utc_now,
    write_results,
)

from .acl_run import acl_rows
from .runner import ANSWERS, SURVIVES, FuzzStats, Progress, fuzz_malformed
from .session import FuzzTarget

__all__ = ["build_parser", "main", "result_rows"]

_TEST = "mqttsec fuzz --target {target} --seed {seed}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqttsec fuzz",
        description="Send hypothesis-generated malformed MQTT 3.1.1/5.0 input to a broker; "
        "it must survive, refuse what the spec forbids, and keep serving others.",
    )
    parser.add_argument("--target", default="reference", help="target spec (default reference)")
    parser.add_argument("--examples", type=int, default=10_000, help="examples (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--max-time", type=float, default=600.0, help="seconds at most (default 600)"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("mqttsec-report"),
        help="results.json, reproducers/ and the hypothesis database (default ./mqttsec-report)",
    )
    parser.add_argument("--profile", type=Path, help="security profile TOML (default: shipped)")
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=0.5,
        help="seconds to wait for the broker to close or answer each example (default 0.5)",
    )
    parser.add_argument(
        "--acl-examples",
        type=int,
        default=20,
        help="runs of the multi-client ACL state machine per MQTT version (default 20; 0: none)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def result_rows(stats: FuzzStats, target: str, seed_value: int) -> list[ScenarioResult]:
    """One FUZZ-MALFORMED-SURVIVES and one FUZZ-MALFORMED-ANSWER row per MQTT version."""
    rows: list[ScenarioResult] = []
    per_example = stats.seconds / max(stats.total, 1)
    for version in ("3.1.1", "5.0"):
        done = stats.examples[version]
        fails = [f for f in stats.failures if f.case.version.name == _vname(version)]
        held = [f for f in stats.findings.values() if f.outcome == "held-open" and _is(f, version)]
        devs = [f for f in stats.findings.values() if f.outcome == "deviation" and _is(f, version)]
        base = f"{done} examples ({stats.total / max(stats.seconds, 1e-9):.0f}/s overall)"
        survive_detail = base + "".join(
            f"; FAILED {f.case.label}: {f.detail} -> {f.path}" for f in fails
        )
        if held:
            survive_detail += "; held open (broker kept serving): " + ", ".join(
                f"{f.case.label} x{f.count}" for f in held
            )
        rows.append(_row(SURVIVES, "critical", target, version, fails, survive_detail, seed_value))
        answer_detail = base + "".join(
            f"; {f.case.label} x{f.count}: {f.detail} -> {f.path}" for f in devs
        )
        outcome = Outcome.DEVIATION if devs else Outcome.PASS
        rows.append(
            ScenarioResult(
                ANSWERS, "fuzz", "medium", target, version,
                outcome if done else Outcome.ERROR,
                ("MQTT-4.13.1-1", "MQTT-4.8.0-1"),
                answer_detail if done else "no example ran", per_example * done,
                _TEST.format(target=target, seed=seed_value),
            )
        )  # fmt: skip
    return rows


def _vname(version: str) -> str:
    return "V5" if version == "5.0" else "V311"


def _is(finding: object, version: str) -> bool:
    return bool(getattr(finding, "case").version.name == _vname(version))  # noqa: B009


def _row(
    scenario: str,
    severity: str,
    target: str,
    version: str,
    fails: Sequence[object],
    detail: str,
    seed_value: int,
) -> ScenarioResult:
    done = "0 examples" not in detail.split(" (")[0]
    outcome = Outcome.FAIL if fails else (Outcome.PASS if done else Outcome.ERROR)
    return ScenarioResult(
        scenario, "fuzz", severity, target, version, outcome, ("MQTT-4.13.1-1",), detail, 0.0,
        _TEST.format(target=target, seed=seed_value),
    )  # fmt: skip


def merge_results(report_dir: Path, rows: list[ScenarioResult], meta: RunMetadata) -> Path:
    """Write *rows* into ``results.json``, keeping other rows already there (other scenarios,
    other targets) and replacing rows with the same key."""
    import json

    from mqttsec.reports.results import SCHEMA

    path = report_dir / "results.json"
    keep: list[ScenarioResult] = []
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("schema") == SCHEMA and old.get("kind") == "scenarios":
            keys = {r.key for r in rows}
            keep = [
                r
                for r in map(ScenarioResult.from_json, old.get("results", []))
                if r.key not in keys
            ]
            meta.targets = {**old.get("targets", {}), **meta.targets}
            meta.profile = meta.profile or old.get("profile", {})
    return write_results(report_dir, [*keep, *rows], meta)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mqttsec fuzz``; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.examples < 0 or args.max_time <= 0:
        print("mqttsec fuzz: error: --examples >= 0 and --max-time > 0", file=sys.stderr)
        return 2
    meta = RunMetadata()
    try:
        profile = load_profile(args.profile) if args.profile else None
        args.report_dir.mkdir(parents=True, exist_ok=True)
        target = FuzzTarget(args.target, args.report_dir / "work", profile)
        meta.profile = {"name": target.profile.name, "source": str(args.profile or "<default>")}
        meta.targets = {args.target: {"version": target.version, "fuzz": True}}
        stats = fuzz_malformed(
            target,
            args.report_dir,
            examples=args.examples,
            seed_value=args.seed,
            max_time=args.max_time,
            progress=None if args.quiet else Progress(args.examples),
            answer_timeout=args.answer_timeout,
        )
    except MQTTSecError as exc:
        print(f"mqttsec fuzz: error: {exc}", file=sys.stderr)
        return 2
    rows = result_rows(stats, args.target, args.seed)
    if args.acl_examples > 0:
        try:
            rows += acl_rows(target, args.acl_examples, args.seed, args.report_dir)
        except MQTTSecError as exc:
            print(f"mqttsec fuzz: error: {exc}", file=sys.stderr)
            return 2
    meta.finished = utc_now()
    path = merge_results(args.report_dir, rows, meta)
    rate = stats.total / max(stats.seconds, 1e-9)
    print(f"{stats.total} examples in {stats.seconds:.1f}s ({rate:.0f}/s) against {args.target}")
    for row in rows:
        print(f"  {row.scenario:26} {row.mqtt_version:5} {row.outcome.value}")
    for finding in [*stats.failures, *stats.findings.values()]:
        print(f"  {finding.outcome}: {finding.case.label} x{finding.count}: {finding.detail}")
        print(f"    replay: mqttsec replay {finding.path} --target {args.target}")
    print(f"results: {path}")
    bad = any(r.outcome in (Outcome.FAIL, Outcome.DEVIATION, Outcome.ERROR) for r in rows)
    return 1 if bad else 0
