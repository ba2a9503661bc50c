"""The malformed-input fuzz loop behind ``mqttsec fuzz``: bounded, resumable, shrinking.

Each hypothesis test case is a *batch* of 1 to ``batch`` examples drawn from
:func:`~mqttsec.fuzz.mutations.malformed`, sent concurrently through a
:class:`~mqttsec.fuzz.batch.Batcher` (one connection per example) and followed by the
survival check; rounds of test cases each get their own seed derived from ``--seed``. A
broker that stops serving is a *failure*: hypothesis shrinks the batch, dropping every
example it does not need and then shrinking what is left, restarting the broker before each
attempt, and a reproducer is saved with the bytes of each remaining example. Deviations and
held-open connections are collected, the smallest example per kind, without stopping the
run. The hypothesis database lives under the report directory, so each run replays earlier
failures first. Every loop is bounded by ``examples`` and ``max_time``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import HypothesisException

from mqttsec.reference_broker.protocol import ProtocolVersion

from .batch import Batcher, Judged
from .harness import BrokerDown, BrokerHarness
from .mutations import Malformed, malformed
from .packets import VERSIONS
from .reproducer import ClientBytes, Reproducer
from .session import FuzzTarget

__all__ = ["FuzzStats", "Progress", "batches", "fuzz_malformed", "version_name"]

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
    cases: tuple[Malformed, ...] = ()
    streams: tuple[bytes, ...] = ()
    """For a failure: every example of the shrunk batch (usually one) and its bytes."""


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
    """Progress at most once per *interval* seconds: done, rate, findings.

    On a terminal one status line is rewritten in place; otherwise (a log file, CI) a full
    line is written every *interval* seconds (default 10 s then), so the output stays short.
    """

    def __init__(
        self, total: int, out: TextIO | None = sys.stderr, interval: float | None = None
    ) -> None:
        self.total = total
        self.out = out
        self.tty = bool(out is not None and out.isatty())
        self.interval = interval if interval is not None else (1.0 if self.tty else 10.0)
        self.start = time.monotonic()
        self._last = self.start

    def update(self, stats: FuzzStats, force: bool = False) -> None:
        now = time.monotonic()
        if self.out is None or (not force and now - self._last < self.interval):
            return
        self._last = now
        rate = stats.total / max(now - self.start, 1e-9)
        line = (
            f"fuzz: {stats.total}/{self.total} examples  {now - self.start:.0f}s  {rate:.0f}/s  "
            f"failures {len(stats.failures)}  deviations {stats.count('deviation')}  "
            f"held-open {stats.count('held-open')}"
        )
        if self.tty:
            self.out.write(f"\r{line}   " + ("\n" if force else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def reproducer(finding: Finding, target: str, seed_value: int | None) -> Reproducer:
    return Reproducer(
        scenario=finding.scenario,
        outcome=finding.outcome,
        label=finding.case.label,
        mqtt_version=version_name(finding.case.version),
        target=target,
        detail=finding.detail,
        clients=tuple(
            ClientBytes(f"fuzz-{i}" if i else "fuzz", stream, case.login)
            for i, (case, stream) in enumerate(
                zip(finding.cases or (finding.case,), finding.streams or (finding.stream,))
            )
        ),
        seed=seed_value,
    )


def batches(
    size: int, versions: tuple[ProtocolVersion, ...] = VERSIONS
) -> st.SearchStrategy[list[Malformed]]:
    """1 to *size* malformed examples in *versions*; shrinking drops the ones a failure does
    not need."""
    one = malformed(versions=versions)

    @st.composite
    def build(draw: st.DrawFn) -> list[Malformed]:
        return [draw(one) for _ in range(draw(st.integers(1, size)))]

    return build()


def fuzz_malformed(
    fuzz_target: FuzzTarget,
    report_dir: Path,
    *,
    examples: int,
    seed_value: int,
    max_time: float,
    progress: Progress | None = None,
    batch: int = 64,
    answer_timeout: float = 2.0,
) -> FuzzStats:
    """Run up to *examples* malformed examples (and at most *max_time* seconds).

    Each hypothesis test case is a batch of up to *batch* examples sent concurrently
    (:class:`~mqttsec.fuzz.batch.Batcher`); the broker's survival is checked after each.

    Returns:
        The counts and findings; reproducers are written to ``report_dir/reproducers``.
    """
    stats = FuzzStats()
    database = DirectoryBasedExampleDatabase(str(report_dir / "hypothesis"))
    endpoint = fuzz_target.start()
    login = fuzz_target.login
    versions = fuzz_target.versions

    def new_batcher(host: str, port: int) -> Batcher:
        harness = BrokerHarness(
            host, port, login, answer_timeout=answer_timeout, probe_version=versions[-1]
        )
        return Batcher(harness)

    batcher = new_batcher(endpoint.host, endpoint.port)
    started = time.monotonic()
    deadline = started + max_time
    failing: list[tuple[list[Malformed], list[bytes], str]] = []
    sent = 0

    def record(judged: list[Judged]) -> None:
        for item in judged:
            verdict = item.verdict
            stats.examples[version_name(item.case.version)] += 1
            stats.answers[verdict.observation.answer.value] += 1
            if verdict.kind != "ok":
                scenario = ANSWERS if verdict.kind == "deviation" else SURVIVES
                stats.note(scenario, verdict.kind, item.case, item.stream, verdict.detail)
        if progress is not None:
            progress.update(stats)

    def one(cases: list[Malformed]) -> None:
        nonlocal batcher, sent
        if time.monotonic() > deadline or sent >= examples:
            return
        cases = cases[: examples - sent]
        sent += len(cases)
        try:
            record(batcher.run(cases))
        except BrokerDown as exc:
            streams = batcher.streams(cases)
            failing.append((cases, streams, str(exc)))
            batcher.close()
            batcher.harness.close()
            fresh = fuzz_target.restart()
            batcher = new_batcher(fresh.host, fresh.port)
            labels = ", ".join(sorted({c.label for c in cases}))
            raise AssertionError(f"{labels}: {exc}") from None

    strategy = batches(batch, versions)
    round_no = 0
    try:
        while sent < examples and time.monotonic() < deadline:
            size = max(1, min(200, (examples - sent) // max(batch * 3 // 4, 1) + 1))
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
            def run(cases: list[Malformed]) -> None:
                one(cases)

            round_no += 1
            try:
                run()
            except (AssertionError, HypothesisException) as exc:
                if not failing:
                    raise
                cases, streams, detail = failing[-1]  # the last one run is the shrunk one
                found = Finding(
                    SURVIVES, "fail", cases[0], streams[0], f"{detail} ({type(exc).__name__})",
                    cases=tuple(cases), streams=tuple(streams),
                )  # fmt: skip
                if all(f.streams != found.streams for f in stats.failures):
                    stats.failures.append(found)
                if len(stats.failures) >= MAX_FAILURES:
                    break
        record(batcher.drain())
    finally:
        stats.seconds = time.monotonic() - started
        batcher.close()
        batcher.harness.close()
        fuzz_target.stop()
        if progress is not None:
            progress.update(stats, force=True)
    out = report_dir / "reproducers"
    for finding in [*stats.failures, *stats.findings.values()]:
        finding.path = reproducer(finding, fuzz_target.spec, seed_value).save(out)
    return stats
