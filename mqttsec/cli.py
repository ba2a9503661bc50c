"""The ``mqttsec`` command line: run the reference broker, smoke-check a broker, show versions,
manage password files (``mqttsec passwd``, mosquitto_passwd's interface), write a test PKI
(``mqttsec pki``).

Exit codes, for scripts and CI: 0 success (every check passed), 1 a check failed or errored,
2 the run could not happen (bad option or config file, port in use, broker unreachable); a
code 2 error is one line on stderr naming what is wrong and how to fix it, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import platform
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from mqttsec import __version__
from mqttsec.broker_options import add_security_options, apply_options, port_number
from mqttsec.errors import MQTTSecError, TargetUnreachable
from mqttsec.results import CheckResult, Outcome, RunResults, Target, utc_now

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (kept separate so tests can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="mqttsec",
        description="Security test and conformance suite for MQTT brokers.",
    )
    parser.add_argument("--version", action="version", version=f"mqttsec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    broker = sub.add_parser("broker", help="run the reference broker until SIGINT/SIGTERM")
    broker.add_argument("-c", "--config", type=Path, help="broker.toml with broker settings")
    broker.add_argument("--host", help="address to listen on (overrides the config file)")
    broker.add_argument(
        "--port", type=port_number, help="TCP port (overrides the config file; 0: any)"
    )
    broker.add_argument(
        "--log-level", type=str.upper, choices=_LOG_LEVELS, help="log verbosity (default INFO)"
    )
    broker.add_argument(
        "--print-config",
        action="store_true",
        help="print every setting (file, options and defaults applied) as TOML and exit",
    )
    add_security_options(broker)

    sub.add_parser(
        "passwd",
        help="manage a password file (same options as mosquitto_passwd: -c -b -D -U -H)",
        add_help=False,
    )

    sub.add_parser(
        "pki",
        help="write a test PKI: CAs, good and bad certificates, a CRL and manifest.json",
        add_help=False,
    )

    sub.add_parser(
        "targets",
        help="list broker targets: installed here or not, version, capabilities (--json)",
        add_help=False,
    )

    sub.add_parser(
        "report", help="render a results.json as Markdown, HTML or JUnit XML", add_help=False
    )

    sub.add_parser(
        "run",
        help="run the security scenarios against targets; results.json and reports",
        add_help=False,
    )
    sub.add_parser(
        "compare",
        help="run every scenario on several targets; one scenario x target matrix",
        add_help=False,
    )

    sub.add_parser("audit", help="black-box security posture check of a broker URL", add_help=False)
    sub.add_parser("version", help="print the mqttsec, Python and paho-mqtt versions")

    sub.add_parser("fuzz", help="fuzz a broker target with malformed MQTT input", add_help=False)
    sub.add_parser("replay", help="replay a fuzz reproducer against a target", add_help=False)

    smoke = sub.add_parser(
        "smoke",
        help="check a broker's MQTT basics with paho-mqtt (3.1.1 and 5.0)",
        description="Connect, subscribe, publish and receive at QoS 0/1/2, retained and will "
        "messages, and a refused malformed CONNECT, at MQTT 3.1.1 and 5.0. Without --host/--port "
        "the built-in reference broker is started in-process on a free port.",
    )
    smoke.add_argument("--host", help="broker address (default: start the reference broker)")
    smoke.add_argument(
        "--port", type=port_number, help="broker port (default 1883 when --host is given)"
    )
    smoke.add_argument(
        "--report-dir",
        type=Path,
        default=Path("mqttsec-report"),
        help="where results.json is written (default: ./mqttsec-report)",
    )
    smoke.add_argument(
        "--protocol",
        action="append",
        choices=("3.1.1", "5.0"),
        help="MQTT version to check (repeatable; default both)",
    )
    smoke.add_argument(
        "--timeout", type=float, default=5.0, help="seconds each step may wait (default 5)"
    )
    return parser


_DELEGATED = {
    "passwd": "mqttsec.reference_broker.security.passwd_tool",  # mosquitto_passwd's interface
    "pki": "mqttsec.fixtures.pki",
    "targets": "mqttsec.fixtures.targets.listing",
    "fuzz": "mqttsec.fuzz.cli",
    "replay": "mqttsec.fuzz.replay",
    "audit": "mqttsec.audit.command",
    "run": "mqttsec.run_command",
    "compare": "mqttsec.compare_command",
    "report": "mqttsec.report_command",
}
"""Subcommands whose module parses its own arguments (its ``main(argv) -> int``)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    raw = list(sys.argv[1:] if argv is None else argv)
    delegated = _DELEGATED.get(raw[0]) if raw else None
    if delegated is not None:  # a command with its own parser: options passed untouched
        module = importlib.import_module(delegated)
        return int(module.main(raw[1:]))
    args = build_parser().parse_args(raw)
    try:
        if args.command == "broker":
            return _cmd_broker(args)
        if args.command == "version":
            return _cmd_version()
        if args.command == "smoke":
            return _cmd_smoke(args)
        raise RuntimeError(f"subcommand {args.command!r} has no handler")
    except MQTTSecError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> int:
    print(f"mqttsec: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _listen_error(exc: OSError, host: str, port: int) -> str:
    """A one-line explanation, with the fix, for an OSError from listening on ``host:port``."""
    where = f"cannot listen on {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"{where}: unknown host {host!r}; use an address such as --host 127.0.0.1"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: address already in use; stop the other process or pick another --port"
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied; use a port above 1023 or run as root"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: not an address of this machine; use --host 127.0.0.1"
    return f"{where}: {exc.strerror or exc}"


def _cmd_broker(args: argparse.Namespace) -> int:
    from mqttsec.reference_broker._config_dump import dump_config
    from mqttsec.reference_broker.config import BrokerConfig, load_config

    config = load_config(args.config) if args.config is not None else BrokerConfig()
    config = apply_options(config, args)
    if args.print_config:
        print(dump_config(config), end="")
        return EXIT_OK
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from mqttsec.reference_broker.server import run_broker

    try:
        return int(run_broker(config))
    except OSError as exc:
        listeners = config.effective_listeners()
        if len(listeners) == 1:
            return _error(_listen_error(exc, listeners[0].host, listeners[0].port))
        where = ", ".join(f"{lst.host}:{lst.port}" for lst in listeners)
        return _error(f"cannot listen on one of {where}: {exc.strerror or exc}")


def _cmd_version() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        paho = version("paho-mqtt")
    except PackageNotFoundError:
        paho = "not installed"
    print(f"mqttsec {__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"paho-mqtt {paho}")
    return EXIT_OK


def _check_reachable(host: str, port: int, timeout: float) -> None:
    """Fail fast, with the fix, when nothing accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        raise TargetUnreachable(
            f"cannot resolve broker host {host!r} ({exc.strerror}); check --host"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TargetUnreachable(
            f"cannot reach a broker at {host}:{port} ({reason}); start one "
            f"(e.g. `mqttsec broker --port {port}`) or omit --host/--port to use the built-in "
            "reference broker"
        ) from None


def _cmd_smoke(args: argparse.Namespace) -> int:
    from mqttsec.smoke_client import VERSIONS

    if args.timeout <= 0:
        raise MQTTSecError(f"--timeout {args.timeout:g}: use a positive number of seconds")
    versions = tuple(args.protocol) if args.protocol else tuple(VERSIONS)
    report_dir: Path = args.report_dir
    if report_dir.exists() and not report_dir.is_dir():
        raise MQTTSecError(f"--report-dir {report_dir}: exists and is not a directory")
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MQTTSecError(f"--report-dir {report_dir}: cannot create it ({exc.strerror})") from exc
    if args.host is None and args.port is None:
        run = _smoke_reference_broker(args.timeout, versions, report_dir)
    else:
        host = args.host or "127.0.0.1"
        port = 1883 if args.port is None else args.port
        _check_reachable(host, port, args.timeout)
        run = _smoke(Target("endpoint", host, port), args.timeout, versions)
    try:
        path = run.write(report_dir)
    except OSError as exc:
        raise MQTTSecError(f"cannot write results to {report_dir}: {exc.strerror or exc}") from exc
    summary = run.summary()
    print(
        f"\n{summary['pass']} passed, {summary['total'] - summary['pass']} failed"
        f" ({summary['fail']} fail, {summary['error']} error); results: {path}"
    )
    return EXIT_OK if run.passed else EXIT_FAILED


def _smoke(target: Target, timeout: float, versions: tuple[str, ...]) -> RunResults:
    """Run every smoke check against ``target``, printing each row as it completes."""
    from mqttsec.smoke import SmokeContext, run_checks

    out = sys.stdout
    run = RunResults(kind="smoke", target=target)
    print(f"mqttsec {__version__} smoke: {target.name} broker at {target.host}:{target.port}")
    _print_header(out)
    for result in run_checks(SmokeContext(target.host, target.port, timeout), versions=versions):
        run.results.append(result)
        _print_row(out, result)
    run.finished = utc_now()
    return run


@contextlib.contextmanager
def _broker_log(path: Path) -> Iterator[None]:
    """Send the in-process broker's log to ``path`` instead of the terminal, for the run."""
    from mqttsec.reference_broker.core import LOGGER_NAME

    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        handler.close()


def _smoke_reference_broker(
    timeout: float, versions: tuple[str, ...], report_dir: Path
) -> RunResults:
    """Start the reference broker in this process on a free port and smoke-check it.

    The broker's log goes to ``report_dir/broker.log``. An internal error the broker recorded
    while serving becomes an extra ``error`` row (``SMOKE-BROKER-HEALTH``), so it fails the run
    and is in results.json rather than lost.
    """
    from mqttsec.reference_broker.background import BackgroundBroker, BrokerThreadError
    from mqttsec.reference_broker.config import BrokerConfig

    with _broker_log(report_dir / "broker.log"):
        # The smoke checks need anonymous clients (a broker of their own, on 127.0.0.1 only).
        broker = BackgroundBroker(BrokerConfig(host="127.0.0.1", port=0, allow_anonymous=True))
        try:
            broker.start()
        except BrokerThreadError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError):
                message = _listen_error(cause, "127.0.0.1", 0)
            else:
                message = f"cannot start the reference broker: {cause or exc}"
            raise TargetUnreachable(message) from None
        failure: BrokerThreadError | None = None
        try:
            run = _smoke(Target("reference", broker.host, broker.port), timeout, versions)
        finally:
            try:
                broker.stop()
            except BrokerThreadError as exc:
                failure = exc
    if failure is not None:
        detail = f"{failure}: {failure.__cause__!r}; see {report_dir / 'broker.log'}"
        row = CheckResult(
            "SMOKE-BROKER-HEALTH",
            "the reference broker recorded no internal error",
            "",
            Outcome.ERROR,
            detail,
        )
        run.results.append(row)
        _print_row(sys.stdout, row)
    return run


_COLUMNS = (("CHECK", 26), ("MQTT", 5), ("RESULT", 6), ("TIME", 8))


def _print_header(out: TextIO) -> None:
    head = " ".join(name.ljust(width) for name, width in _COLUMNS) + " DETAIL"
    print(head, file=out)
    print("-" * len(head), file=out)


def _print_row(out: TextIO, result: CheckResult) -> None:
    outcome = result.outcome.value.upper() if result.outcome is not Outcome.PASS else "pass"
    cells = (result.id, result.version, outcome, f"{result.duration * 1000:.0f}ms")
    line = " ".join(cell.ljust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True))
    print(f"{line} {result.detail}", file=out, flush=True)
