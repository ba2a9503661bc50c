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
import dataclasses
import errno
import importlib
import logging
import platform
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mqttsec import __version__
from mqttsec.errors import MQTTSecError, TargetUnreachable
from mqttsec.results import CheckResult, Outcome, RunResults, Target, utc_now

if TYPE_CHECKING:
    from mqttsec.reference_broker.config import BrokerConfig

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _port(text: str) -> int:
    """argparse type for a TCP port number (0 = any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


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
    broker.add_argument("--port", type=_port, help="TCP port (overrides the config file; 0: any)")
    broker.add_argument(
        "--log-level", type=str.upper, choices=_LOG_LEVELS, help="log verbosity (default INFO)"
    )
    broker.add_argument(
        "--print-config",
        action="store_true",
        help="print every setting (file, options and defaults applied) as TOML and exit",
    )
    _add_security_options(broker)

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

    sub.add_parser("version", help="print the mqttsec, Python and paho-mqtt versions")

    smoke = sub.add_parser(
        "smoke",
        help="check a broker's MQTT basics with paho-mqtt (3.1.1 and 5.0)",
        description="Connect, subscribe, publish and receive at QoS 0/1/2, retained and will "
        "messages, and a refused malformed CONNECT, at MQTT 3.1.1 and 5.0. Without --host/--port "
        "the built-in reference broker is started in-process on a free port.",
    )
    smoke.add_argument("--host", help="broker address (default: start the reference broker)")
    smoke.add_argument("--port", type=_port, help="broker port (default 1883 when --host is given)")
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


def _bool(text: str) -> bool:
    """argparse type for mosquitto-style ``true``/``false`` values."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use true or false")


def _path(text: str) -> str:
    """argparse type for a file path: made absolute, so --print-config output loads anywhere."""
    return str(Path(text).absolute())


#: TLS flags: they configure the --tls-port listener and mean nothing without it.
_TLS_FLAGS = (
    "cafile",
    "certfile",
    "keyfile",
    "require_certificate",
    "use_identity_as_username",
    "use_subject_as_username",
    "crlfile",
    "tls_version",
    "ciphers",
)


def _add_security_options(broker: argparse.ArgumentParser) -> None:
    """The security flags of ``mqttsec broker``, named like mosquitto's options."""
    auth = broker.add_argument_group("authentication and authorization")
    auth.add_argument(
        "--allow-anonymous",
        type=_bool,
        metavar="true|false",
        help="accept clients without a username (default false)",
    )
    auth.add_argument("--password-file", type=_path, help="mosquitto-format password file")
    auth.add_argument("--acl-file", type=_path, help="mosquitto-format ACL file")
    tls = broker.add_argument_group(
        "TLS listener",
        "--tls-port opens a TLS listener on --host; the TLS options below apply to it and are "
        "refused without it. With --tls-port, the plain listener opens only if --port is given.",
    )
    tls.add_argument("--tls-port", type=_port, help="port of the TLS listener (0: any)")
    tls.add_argument("--certfile", type=_path, help="server certificate chain (PEM)")
    tls.add_argument("--keyfile", type=_path, help="server private key (PEM, unencrypted)")
    tls.add_argument("--cafile", type=_path, help="CA that signs client certificates (PEM)")
    tls.add_argument(
        "--require-certificate",
        action="store_true",
        default=None,
        help="mTLS: refuse clients without a valid certificate",
    )
    tls.add_argument(
        "--use-identity-as-username",
        action="store_true",
        default=None,
        help="the client certificate CN is the username",
    )
    tls.add_argument(
        "--use-subject-as-username",
        action="store_true",
        default=None,
        help="the client certificate subject is the username",
    )
    tls.add_argument("--crlfile", type=_path, help="CRL of the client CA (PEM)")
    tls.add_argument(
        "--tls-version", choices=("tlsv1.2", "tlsv1.3"), help="minimum TLS version (tlsv1.2)"
    )
    tls.add_argument("--ciphers", help="OpenSSL cipher list for TLS 1.2")


_DELEGATED = {
    "passwd": "mqttsec.reference_broker.security.passwd_tool",  # mosquitto_passwd's interface
    "pki": "mqttsec.fixtures.pki",
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
    config = _apply_options(config, args)
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


def _apply_options(config: BrokerConfig, args: argparse.Namespace) -> BrokerConfig:
    """*config* with the command-line options applied (options win over the file).

    Raises:
        ConfigError: TLS options without --tls-port, or --host/--port together with a
            config file that defines [[listeners]].
    """
    from mqttsec.errors import ConfigError
    from mqttsec.reference_broker.config import ListenerConfig
    from mqttsec.reference_broker.security.tls import TlsSettings

    overrides = {
        key: getattr(args, key)
        for key in ("host", "port", "log_level", "allow_anonymous", "password_file", "acl_file")
        if getattr(args, key) is not None
    }
    tls_options = {key: getattr(args, key) for key in _TLS_FLAGS if getattr(args, key) is not None}
    if tls_options and args.tls_port is None:
        flags = ", ".join("--" + key.replace("_", "-") for key in tls_options)
        raise ConfigError(
            f"{flags} given without --tls-port; add --tls-port 8883 to open a TLS listener "
            "(TLS options never apply to the plain listener)"
        )
    if config.listeners and ({"host", "port"} & overrides.keys()):
        raise ConfigError(
            "--host/--port cannot change a config file with [[listeners]]; edit the listeners "
            "there (--tls-port adds one)"
        )
    config = dataclasses.replace(config, **overrides)
    if args.tls_port is None:
        return config
    if "certfile" not in tls_options or "keyfile" not in tls_options:
        raise ConfigError("--tls-port needs --certfile and --keyfile (the server certificate)")
    try:
        tls = TlsSettings(**tls_options)
    except ConfigError as exc:
        raise ConfigError(f"TLS options: {exc}") from None
    listeners = list(config.listeners)
    if not listeners and args.port is not None:
        listeners.append(ListenerConfig("default", config.host, config.port))
    listeners.append(ListenerConfig("tls", config.host, args.tls_port, tls))
    return dataclasses.replace(config, listeners=tuple(listeners))


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
