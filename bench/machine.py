"""What the machine is doing, from /proc: CPU time of a process, its memory, and the load of
everything else.

The benchmark shares its cores with whatever else runs; a window in which other processes
took CPU measures them as much as the brokers. Each scenario therefore records the CPU the
rest of the machine used during its window, and can wait for a quiet machine before it starts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["CLK_TCK", "cpu_seconds", "machine_busy_seconds", "rss_mb", "wait_idle"]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` from /proc/<pid>/stat (fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (VmRSS from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent not idle since boot (the first line of /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLK_TCK


def wait_idle(max_wait: float, threshold: float = 25.0, probe: float = 0.5) -> float:
    """Wait (at most ``max_wait`` s) until the machine's busy CPU% drops below ``threshold``.

    Args:
        max_wait: give up after this many seconds and go on anyway (0: do not wait).
        threshold: CPU% over all cores (100 = one core busy) regarded as quiet.
        probe: length of each measurement.

    Returns:
        The busy CPU% of the last probe.
    """
    deadline = time.monotonic() + max_wait
    busy = 0.0
    while True:
        b1 = machine_busy_seconds()
        time.sleep(probe)
        busy = 100.0 * (machine_busy_seconds() - b1) / probe
        if busy < threshold or time.monotonic() >= deadline:
            return busy
