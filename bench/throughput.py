"""Broker throughput: the reference broker, mosquitto and amqtt under one load generator.

Scenarios: one topic, 64-byte payloads, MQTT 3.1.1 (the one version all three speak), QoS 0
and QoS 1, one publisher to one subscriber and to ten. The figure is delivered messages per
second counted at the subscribers, with the loss (QoS 0 may be dropped under overload), the
broker's CPU% (about 100% means one core is saturated: all three are single-threaded) and
the generator's own CPU%. ``--self-test`` measures the generator alone against a trivial
sink/source to show it is faster than the brokers it measures.

Usage::

    python bench/throughput.py [--duration 5] [--brokers reference,mosquitto,amqtt]
                               [--json bench/results/run.json] [--self-test]
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from brokers import BROKERS, Broker, BrokerStartError
from loadgen import LoadSpec
from machine import wait_idle
from scenario import Measurement, Timing, measure
from sink import serve
from wire import shape_of

SCENARIOS: list[tuple[int, int]] = [(0, 1), (0, 10), (1, 1), (1, 10)]
"""(QoS, subscribers) pairs; one publisher each."""


def scenario_name(qos: int, subscribers: int) -> str:
    return f"qos{qos} 1->{subscribers}"


def spec_for(port: int, qos: int, args: argparse.Namespace, tag: str, backlog: int = 0) -> LoadSpec:
    return LoadSpec(
        host="127.0.0.1",
        port=port,
        qos=qos,
        shape=shape_of(qos, args.payload),
        payload_size=args.payload,
        inflight=args.inflight,
        backlog=backlog,
        max_messages=args.messages,
        tag=tag,
    )


def run_brokers(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every selected broker under every scenario, a fresh broker process per scenario."""
    timing = Timing(warmup=args.warmup, duration=args.duration)
    rows: list[dict[str, Any]] = []
    for qos, subs in args.scenarios:
        for name in args.brokers:
            row: dict[str, Any] = {"broker": name, "scenario": scenario_name(qos, subs)}
            row.update(qos=qos, subscribers=subs)
            runs: list[dict[str, Any]] = []
            best: tuple[int, Measurement] | None = None
            for backlog in args.backlog:
                for _ in range(args.repeat):
                    try:
                        m = run_one(name, qos, subs, args, timing, backlog)
                    except (BrokerStartError, RuntimeError, TimeoutError, OSError) as exc:
                        runs.append({"backlog": backlog, "error": _last_line(exc)})
                        continue
                    runs.append({"backlog": backlog, "rate": round(m.rate)})
                    if best is None or m.rate > best[1].rate:
                        best = (backlog, m)
            if best is None:
                row["error"] = runs[-1]["error"]
            else:
                row.update(best[1].as_dict())
                row["backlog"] = best[0]
            row["runs"] = runs
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _last_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else repr(exc)


def run_one(
    name: str, qos: int, subs: int, args: argparse.Namespace, timing: Timing, backlog: int
) -> Measurement:
    """One scenario against a fresh broker process (no state left from an earlier run)."""
    wait_idle(args.wait_idle)
    with Broker(name) as broker:
        spec = spec_for(broker.port, qos, args, f"{name}-q{qos}-s{subs}", backlog)
        return measure(spec, subs, broker.pid, timing, subscriber_processes=args.sub_procs)


def run_self_test(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The generator against the trivial sink/source: its own maximum rates."""
    timing = Timing(warmup=args.warmup, duration=min(args.duration, 3.0))
    rows: list[dict[str, Any]] = []
    cases = [("publisher -> sink", q, 0) for q in (0, 1)]
    cases = [case for case in cases if case[1] in args.qos]
    cases += [(f"source -> {s} subscriber(s)", q, s) for q, s in args.scenarios]
    ctx = multiprocessing.get_context("fork")
    for label, qos, subs in cases:
        wait_idle(args.wait_idle)
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        shape = shape_of(qos, args.payload)
        server = ctx.Process(
            target=serve, args=(listener, qos, shape, args.payload, args.sink_window), daemon=True
        )
        server.start()
        listener.close()
        try:
            spec = spec_for(port, qos, args, f"self-q{qos}-s{subs}")
            result = measure(
                spec,
                subs,
                server.pid or 0,
                timing,
                publisher=subs == 0,
                subscriber_processes=args.sub_procs,
            )
            row = {"broker": "self-test", "scenario": f"qos{qos} {label}", "qos": qos}
            row.update(subscribers=subs, **result.as_dict())
        finally:
            server.kill()
            server.join(timeout=5)
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    head = f"  {row['broker']:<15} {row['scenario']:<32}"
    if "error" in row:
        return f"{head} ERROR {row['error']}"
    failed = sum(1 for run in row.get("runs", []) if "error" in run)
    note = f"  ({failed} failed run(s): {row['runs']})" if failed else ""
    return (
        f"{head} {row['rate']:>11,.0f} msg/s  loss {100 * row['loss']:5.1f}%  "
        f"server cpu {row['server_cpu']:5.1f}%  generator cpu {row['generator_cpu']:5.1f}% "
        f"(pub {row['publisher_cpu']:5.1f}%)  other {row['other_cpu']:5.1f}%  "
        f"rss {row['server_rss_mb']:6.1f} MiB"
        + (f"  backlog {row['backlog']}" if "backlog" in row else "")
        + note
    )


def ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """reference/mosquitto and reference/amqtt per scenario (None where one is missing)."""
    rate = {(r["broker"], r["scenario"]): r.get("rate") for r in rows}
    out: dict[str, dict[str, float | None]] = {}
    for qos, subs in SCENARIOS:
        name = scenario_name(qos, subs)
        ref = rate.get(("reference", name))
        out[name] = {}
        for other in ("mosquitto", "amqtt"):
            base = rate.get((other, name))
            out[name][f"reference/{other}"] = ref / base if ref and base else None
    return out


def print_summary(rows: list[dict[str, Any]], brokers: list[str]) -> None:
    rate = {(r["broker"], r["scenario"]): r.get("rate") for r in rows}
    table = ratios(rows)
    header = f"{'scenario':<12}" + "".join(f"{b:>16}" for b in brokers)
    header += f"{'ref/mosq':>10}{'ref/amqtt':>11}"
    print("\ndelivered messages per second (all subscribers together)")
    print(header)
    for qos, subs in SCENARIOS:
        name = scenario_name(qos, subs)
        cells = "".join(
            f"{rate[(b, name)]:>16,.0f}" if rate.get((b, name)) else f"{'-':>16}" for b in brokers
        )
        r = table[name]
        cells += "".join(
            f"{r[k]:>{w}.2f}x" if r[k] else f"{'-':>{w + 1}}"
            for k, w in (("reference/mosquitto", 9), ("reference/amqtt", 10))
        )
        print(f"{name:<12}{cells}")


def markdown(result: dict[str, Any]) -> str:
    """The figures of a JSON result as Markdown tables (for bench/README.md)."""
    rows = result.get("results", [])
    brokers = list(dict.fromkeys(r["broker"] for r in rows))
    rate = {(r["broker"], r["scenario"]): r for r in rows}
    lines = [
        "| scenario | " + " | ".join(brokers) + " | ref/mosquitto | ref/amqtt |",
        "|---" * (len(brokers) + 3) + "|",
    ]
    for name, pair in result.get("ratios", {}).items():
        if not any((b, name) in rate for b in brokers):
            continue
        cells = []
        for b in brokers:
            r = rate.get((b, name), {})
            cells.append(f"{r['rate']:,.0f}" if "rate" in r else "error")
        ratio = [f"{v:.2f}x" if v else "-" for v in pair.values()]
        lines.append(f"| {name} | " + " | ".join(cells + ratio) + " |")
    lines += [
        "",
        "| broker | scenario | msg/s | loss | broker CPU | generator CPU | other CPU | backlog |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.get("self_test", []) + rows:
        if "rate" not in r:
            lines.append(f"| {r['broker']} | {r['scenario']} | error: {r['error']} | | | | | |")
            continue
        lines.append(
            f"| {r['broker']} | {r['scenario']} | {r['rate']:,.0f} | {100 * r['loss']:.1f}% "
            f"| {r['server_cpu']:.0f}% | {r['generator_cpu']:.0f}% | {r['other_cpu']:.0f}% "
            f"| {r.get('backlog', '-')} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured window, seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up, seconds")
    parser.add_argument(
        "--messages", type=int, default=0, help="stop publishing after N messages (0: no limit)"
    )
    parser.add_argument(
        "--brokers",
        default="reference,mosquitto,amqtt",
        help=f"comma list from {', '.join(BROKERS)}",
    )
    parser.add_argument("--qos", default="0,1", help="QoS levels to run, e.g. 1")
    parser.add_argument("--subscribers", default="1,10", help="fan-outs to run, e.g. 10")
    parser.add_argument("--payload", type=int, default=64, help="payload bytes")
    parser.add_argument("--inflight", type=int, default=100, help="publisher QoS 1 window")
    parser.add_argument(
        "--backlog",
        default="2000",
        help="max messages published but not yet delivered to the slowest subscriber "
        "(0: flood, TCP back-pressure only); a comma list runs each and keeps the best",
    )
    parser.add_argument("--sub-procs", type=int, default=1, help="subscriber processes")
    parser.add_argument("--sink-window", type=int, default=20, help="self-test source window")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per broker and scenario; the best is kept"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="before each run wait up to this many seconds for other load to drop below 25%%",
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--self-test", action="store_true", help="measure the generator too")
    parser.add_argument("--self-test-only", action="store_true", help="only measure the generator")
    parser.add_argument(
        "--markdown", type=Path, metavar="JSON", help="print a result file as Markdown; no run"
    )
    args = parser.parse_args(argv)
    args.brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    args.backlog = [int(b) for b in str(args.backlog).split(",") if b.strip()]
    args.qos = [int(q) for q in args.qos.split(",") if q.strip()]
    fanouts = [int(s) for s in args.subscribers.split(",") if s.strip()]
    args.scenarios = [(q, s) for q, s in SCENARIOS if q in args.qos and s in fanouts]
    unknown = set(args.brokers) - set(BROKERS)
    if unknown:
        parser.error(f"unknown broker(s) {sorted(unknown)}; choose from {sorted(BROKERS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    print(f"mqttsec throughput: {os.cpu_count()} cpus, payload {args.payload} B, MQTT 3.1.1")
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    if args.self_test or args.self_test_only:
        print("self-test: the generator against a trivial sink/source")
        result["self_test"] = run_self_test(args)
    if not args.self_test_only:
        print("brokers:")
        rows = run_brokers(args)
        result["results"] = rows
        result["ratios"] = ratios(rows)
        print_summary(rows, args.brokers)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    failed = [r for r in result.get("results", []) if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
