"""Examples per second of ``mqttsec fuzz`` against targets, with the CPU each side used.

    python bench/fuzz_rate.py                                   # reference, local:mosquitto
    python bench/fuzz_rate.py --targets reference --examples 20000 --batch 1

For each target one malformed-input run (no ACL machine) of ``--examples`` examples with a
fixed seed; printed: wall time, examples/s, the CPU seconds of this process (hypothesis,
sockets, judging) and of its children (a broker run as a subprocess), and the load average
before and after (other programs on the machine slow the figure down: note it with it).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from mqttsec.fuzz.runner import fuzz_malformed
from mqttsec.fuzz.session import FuzzTarget


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(target: str, examples: int, seed: int, batch: int) -> dict[str, float]:
    """One run against *target*; returns wall, rate and CPU seconds (self, children)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-rate-") as work:
        fuzz_target = FuzzTarget(target, Path(work) / "work")
        self0, child0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        stats = fuzz_malformed(
            fuzz_target, Path(work), examples=examples, seed_value=seed, max_time=1800,
            batch=batch,
        )  # fmt: skip
        return {
            "examples": stats.total,
            "seconds": stats.seconds,
            "rate": stats.total / max(stats.seconds, 1e-9),
            "cpu_self": _cpu(resource.RUSAGE_SELF) - self0,
            "cpu_children": _cpu(resource.RUSAGE_CHILDREN) - child0,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="reference,local:mosquitto")
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    for target in args.targets.split(","):
        before = os.getloadavg()[0]
        started = time.monotonic()
        row = measure(target, args.examples, args.seed, args.batch)
        print(
            f"{target:18} {row['examples']:6d} examples {row['seconds']:6.1f}s "
            f"{row['rate']:5.0f}/s  cpu self {row['cpu_self']:.1f}s children "
            f"{row['cpu_children']:.1f}s  load {before:.1f} -> {os.getloadavg()[0]:.1f} "
            f"({time.monotonic() - started:.0f}s with start/stop)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
