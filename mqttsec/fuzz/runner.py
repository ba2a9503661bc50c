"""The malformed-input fuzz loop behind ``mqttsec fuzz``: bounded, resumable, shrinking.

Examples are drawn from :func:`~mqttsec.fuzz.mutations.malformed` in batches (each with its
own seed derived from ``--seed``) and sent through a :class:`~mqttsec.fuzz.harness.
BrokerHarness`. A broker that stops serving is a *failure*: hypothesis shrinks it to the
smallest bytes that still bring the broker down (the broker is restarted before every next
attempt) and a reproducer is saved. Deviations and held-open connections are collected,
the smallest example per kind, without stopping the run. The hypothesis database lives under
the report directory, so each run replays earlier failures first. Every loop is bounded by
``examples`` and ``max_time``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hypothesis import HealthCheck, given, seed, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import HypothesisException

from mqttsec.reference_broker.protocol import ProtocolVersion

from .harness import BrokerDown, BrokerHarness, Verdict
from .mutations import Malformed, malformed
from .reproducer import ClientBytes, Reproducer
from .session import FuzzTarget

__all__ = ["FuzzStats", "Progress", "fuzz_malformed", "version_name"]

SURVIVES = "FUZZ-MALFORMED-SURVIVES"
ANSWERS = "FUZZ-MALFORMED-ANSWER"
MAX_FAILURES = 3


def version_name(version: ProtocolVersion) -> str:
    return "5.0" if version is ProtocolVersion.V5 else "3.1.1"


@dataclass
class Finding:
    """The smallest example seen of one kind of finding."""

    scenario: str
    outcome: str
    case: Malformed
    stream: bytes
    detail: str
    count: int = 1
    path: Path | None = None


@dataclass
class FuzzStats:
    """What a fuzz run did: counts per version and the findings."""

    examples: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    failures: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.examples.values())

    def note(
        self, scenario: str, outcome: str, case: Malformed, stream: bytes, detail: str
    ) -> None:
        key = (outcome, case.label, version_name(case.version))
        old = self.findings.get(key)
        if old is None:
            self.findings[key] = Finding(scenario, outcome, case, stream, detail)
        else:
            old.count += 1
            if len(stream) < len(old.stream):
                old.case, old.stream, old.detail = case, stream, detail

    def count(self, outcome: str) -> int:
        return sum(f.count for f in self.findings.values() if f.outcome == outcome)


class Progress:
    """One status line, at most once per *interval* seconds: done, rate, findings."""

    def __init__(self, total: int, out: TextIO | None = sys.stderr, interval: float = 1.0) -> None:
        self.total = total
        self.out = out
        self.interval = interval
        self.start = time.monotonic()
        self._last = 0.0

    def update(self, stats: FuzzStats, force: bool = False) -> None:
        now = time.monotonic()
        if self.out is None or (not force and now - self._last < self.interval):
            return
        self._last = now
        rate = stats.total / max(now - self.start, 1e-9)
        self.out.write(
            f"\rfuzz: {stats.total}/{self.total} examples  {rate:.0f}/s  "
            f"failures {len(stats.failures)}  deviations {stats.count('deviation')}  "
            f"held-open {stats.count('held-open')}   "
        )
        if force:
            self.out.write("\n")
        self.out.flush()


def reproducer(finding: Finding, target: str, seed_value: int | None) -> Reproducer:
    return Reproducer(
        scenario=finding.scenario,
        outcome=finding.outcome,
        label=finding.case.label,
        mqtt_version=version_name(finding.case.version),
        target=target,
        detail=finding.detail,
        clients=(ClientBytes("fuzz", finding.stream, finding.case.login),),
        seed=seed_value,
    )


def fuzz_malformed(
    fuzz_target: FuzzTarget,
    report_dir: Path,
    *,
    examples: int,
    seed_value: int,
    max_time: float,
    progress: Progress | None = None,
    batch: int = 1000,
    answer_timeout: float = 0.5,
) -> FuzzStats:
    """Run up to *examples* malformed examples (and at most *max_time* seconds).

    Returns:
        The counts and findings; reproducers are written to ``report_dir/reproducers``.
    """
    stats = FuzzStats()
    database = DirectoryBasedExampleDatabase(str(report_dir / "hypothesis"))
    endpoint = fuzz_target.start()
    login = fuzz_target.login
    harness = BrokerHarness(endpoint.host, endpoint.port, login, answer_timeout=answer_timeout)
    started = time.monotonic()
    deadline = started + max_time
    failing: list[tuple[Malformed, bytes, str]] = []

    def one(case: Malformed) -> None:
        nonlocal harness
        if time.monotonic() > deadline or stats.total >= examples:
            return
        stream = harness.stream(case)
        try:
            verdict: Verdict = harness.run(case)
        except BrokerDown as exc:
            failing.append((case, stream, str(exc)))
            harness.close()
            fresh = fuzz_target.restart()
            harness = BrokerHarness(fresh.host, fresh.port, login, answer_timeout=answer_timeout)
            raise AssertionError(f"{case.label}: {exc}") from None
        stats.examples[version_name(case.version)] += 1
        stats.answers[verdict.observation.answer.value] += 1
        if verdict.kind != "ok":
            scenario = ANSWERS if verdict.kind == "deviation" else SURVIVES
            stats.note(scenario, verdict.kind, case, stream, verdict.detail)
        if progress is not None:
            progress.update(stats)

    strategy = malformed()
    round_no = 0
    try:
        while stats.total < examples and time.monotonic() < deadline:
            size = min(batch, examples - stats.total)
            failing.clear()

            @seed(seed_value * 100_003 + round_no)
            @settings(
                max_examples=size,
                deadline=None,
                database=database,
                derandomize=False,
                report_multiple_bugs=False,
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def run(case: Malformed) -> None:
                one(case)

            round_no += 1
            try:
                run()
            except (AssertionError, HypothesisException) as exc:
                if not failing:
                    raise
                case, stream, detail = failing[-1]  # the last one run is the shrunk one
                found = Finding(SURVIVES, "fail", case, stream, f"{detail} ({type(exc).__name__})")
                if all(f.stream != stream for f in stats.failures):
                    stats.failures.append(found)
                if len(stats.failures) >= MAX_FAILURES:
                    break
    finally:
        stats.seconds = time.monotonic() - started
        harness.close()
        fuzz_target.stop()
        if progress is not None:
            progress.update(stats, force=True)
    out = report_dir / "reproducers"
    for finding in [*stats.failures, *stats.findings.values()]:
        finding.path = reproducer(finding, fuzz_target.spec, seed_value).save(out)
    return stats
