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
from .runner import ANSWERS, SURVIVES, FuzzStats, Progress, fuzz_malformed, version_name
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
        default=2.0,
        help="seconds an example's connection may stay neither closed nor answered before it "
        "counts as held open (default 2; other examples go on meanwhile)",
    )
    parser.add_argument(
        "--acl-examples",
        type=int,
        default=20,
        help="runs of the multi-client ACL state machine per MQTT version (default 20; 0: none)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=64,
        help="examples in flight at once per hypothesis test case; the broker's survival is "
        "checked after each batch (default 64; 1: one example at a time)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (default: a status line on a terminal, a line every 10 s otherwise)",
    )
    return parser


def result_rows(
    stats: FuzzStats, target: str, seed_value: int, versions: Sequence[str] = ("3.1.1", "5.0")
) -> list[ScenarioResult]:
    """One FUZZ-MALFORMED-SURVIVES and one FUZZ-MALFORMED-ANSWER row per MQTT version
    (``unsupported`` for a version not in *versions*, the ones the target speaks)."""
    rows: list[ScenarioResult] = []
    per_example = stats.seconds / max(stats.total, 1)
    for version in ("3.1.1", "5.0"):
        if version not in versions:
            rows += [unsupported(s, target, version, seed_value) for s in (SURVIVES, ANSWERS)]
            continue
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
        rows.append(
            _row(SURVIVES, "critical", target, version, fails, survive_detail, seed_value, done)
        )
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


def unsupported(scenario: str, target: str, version: str, seed_value: int) -> ScenarioResult:
    """The row of a scenario in an MQTT version the target does not speak."""
    return ScenarioResult(
        scenario, "fuzz", "critical" if scenario != ANSWERS else "medium", target, version,
        Outcome.UNSUPPORTED, (), f"{target} does not speak MQTT {version}", 0.0,
        _TEST.format(target=target, seed=seed_value),
    )  # fmt: skip


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
    done: int,
) -> ScenarioResult:
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
    if args.examples < 0 or args.max_time <= 0 or args.batch < 1:
        print(
            "mqttsec fuzz: error: --examples >= 0, --max-time > 0 and --batch >= 1",
            file=sys.stderr,
        )
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
            batch=args.batch,
        )
    except MQTTSecError as exc:
        print(f"mqttsec fuzz: error: {exc}", file=sys.stderr)
        return 2
    rows = result_rows(stats, args.target, args.seed, [version_name(v) for v in target.versions])
    if args.acl_examples > 0:
        try:
            rows += acl_rows(target, args.acl_examples, args.seed, args.report_dir)
        except MQTTSecError as exc:  # keep the malformed-input rows: report the ACL run's error
            print(f"mqttsec fuzz: ACL state machine: error: {exc}", file=sys.stderr)
            rows += [
                ScenarioResult(
                    "FUZZ-ACL-STATEFUL", "fuzz", "critical", args.target, version,
                    Outcome.ERROR, ("MQTT-4.9",), f"the ACL state machine stopped: {exc}", 0.0,
                    _TEST.format(target=args.target, seed=args.seed),
                )
                for version in ("3.1.1", "5.0")
            ]  # fmt: skip
    meta.finished = utc_now()
    path = merge_results(args.report_dir, rows, meta)
    rate = stats.total / max(stats.seconds, 1e-9)
    print(f"{stats.total} examples in {stats.seconds:.1f}s ({rate:.0f}/s) against {args.target}")
    answers = ", ".join(f"{name} {n}" for name, n in sorted(stats.answers.items()))
    print(f"  broker answers: {answers or 'none'}")
    for row in rows:
        print(f"  {row.scenario:26} {row.mqtt_version:5} {row.outcome.value}")
    for finding in [*stats.failures, *stats.findings.values()]:
        print(f"  {finding.outcome}: {finding.case.label} x{finding.count}: {finding.detail}")
        print(f"    replay: mqttsec replay {finding.path} --target {args.target}")
    print(f"results: {path}")
    bad = any(r.outcome in (Outcome.FAIL, Outcome.DEVIATION, Outcome.ERROR) for r in rows)
    return 1 if bad else 0
