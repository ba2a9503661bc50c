"""``mqttsec audit mqtt[s]://HOST:PORT``: options, the table as the audit runs, the JSON, the exit.

Exit codes: 0 no high or critical finding, 1 at least one, 2 the audit could not run (a bad
option, an unset ``--password-env`` variable, an unreachable host, no MQTT or TLS there): one
line on stderr naming what is wrong and the fix, never a traceback or a hang.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mqttsec.errors import ConfigError, MQTTSecError

from .findings import exit_code
from .limits import DEFAULT_LARGE_PUBLISH
from .report import audit_document, print_header, print_row, print_summary, write_report
from .runner import CHECK_GROUPS, AuditOptions, run_audit
from .target import AuditTarget

__all__ = ["build_parser", "main"]

EXIT_ERROR = 2
_MAX_LARGE_PUBLISH = 64 * 1024 * 1024


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: use a positive number of seconds")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: use 0 or more seconds")
    return value


def _size(text: str) -> int:
    value = int(text)
    if not 0 <= value <= _MAX_LARGE_PUBLISH:
        raise argparse.ArgumentTypeError(f"{text}: use 0 (skip) to {_MAX_LARGE_PUBLISH} bytes")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: use a port from 1 to 65535, or 0 (skip)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``mqttsec audit`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="mqttsec audit",
        description="Black-box security posture check of an MQTT broker: TLS versions and "
        "certificate, anonymous access, plaintext listeners, default credentials, what # and "
        "$SYS/# reveal, client-id takeover, packet-size limits. Exit 0: no high or critical "
        "finding; 1: at least one; 2: the audit could not run.",
    )
    parser.add_argument("url", help="the broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    parser.add_argument("--cafile", type=Path, help="CA bundle to verify the server with")
    parser.add_argument("--certfile", type=Path, help="client certificate (brokers needing mTLS)")
    parser.add_argument("--keyfile", type=Path, help="key of --certfile")
    parser.add_argument("--username", help="also log in as this user")
    parser.add_argument(
        "--password-env",
        metavar="NAME",
        help="environment variable holding --username's password (never on the command line)",
    )
    parser.add_argument(
        "--timeout", type=_positive, default=5.0, help="seconds any network step may take (5)"
    )
    parser.add_argument(
        "--listen",
        type=_non_negative_float,
        default=2.0,
        help="seconds to watch # and $SYS/# after the audit's own message arrived (2)",
    )
    parser.add_argument(
        "--large-publish",
        type=_size,
        default=DEFAULT_LARGE_PUBLISH,
        metavar="BYTES",
        help=f"payload of the oversize PUBLISH probe ({DEFAULT_LARGE_PUBLISH}; 0 skips it)",
    )
    parser.add_argument(
        "--plain-port",
        type=_port,
        default=1883,
        help="for mqtts:// targets, where to look for a plain listener too (1883; 0 skips)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=CHECK_GROUPS,
        default=[],
        help="a group of checks not to run (repeatable)",
    )
    parser.add_argument("--report-dir", type=Path, help="write results.json into this directory")
    parser.add_argument("--json", type=Path, help="write the JSON report to this file (- stdout)")
    return parser


def _target(args: argparse.Namespace) -> AuditTarget:
    """The target from the options; every usage problem is a ConfigError naming the fix."""
    password = None
    if args.password_env is not None:
        if args.username is None:
            raise ConfigError("--password-env needs --username")
        password = os.environ.get(args.password_env)
        if password is None:
            raise ConfigError(
                f"--password-env {args.password_env}: the variable is not set; "
                f"export {args.password_env}=... first"
            )
    for option in ("cafile", "certfile", "keyfile"):
        path = getattr(args, option)
        if path is not None and not path.is_file():
            raise ConfigError(f"--{option} {path}: no such file")
    if args.keyfile is not None and args.certfile is None:
        raise ConfigError("--keyfile needs --certfile")
    target = AuditTarget.from_url(
        args.url,
        cafile=args.cafile,
        username=args.username,
        password=password,
        timeout=args.timeout,
    )
    if not target.tls and (args.cafile or args.certfile):
        raise ConfigError(f"--cafile/--certfile need an mqtts:// target, not {args.url}")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mqttsec audit``; returns the exit code (0, 1, or 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    json_to_stdout = args.json is not None and str(args.json) == "-"
    out = sys.stderr if json_to_stdout else sys.stdout
    try:
        target = _target(args)
        options = AuditOptions(
            listen=args.listen,
            large_publish=args.large_publish,
            plain_port=args.plain_port,
            skip=frozenset(args.skip),
            client_cert=(str(args.certfile), str(args.keyfile) if args.keyfile else None)
            if args.certfile
            else None,
        )
        print_header(out, target.url)
        report = run_audit(target, options, progress=lambda row: print_row(out, row))
        written = []
        paths = [args.report_dir / "results.json"] if args.report_dir is not None else []
        paths += [args.json] if args.json is not None and not json_to_stdout else []
        for path in paths:
            try:
                written.append(write_report(report, path))
            except OSError as exc:
                return _error(f"cannot write {path}: {exc.strerror or exc}")
        print_summary(out, report, written)
        if json_to_stdout:
            print(json.dumps(audit_document(report), indent=2))
    except MQTTSecError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return 130
    return exit_code(report.findings)


def _error(message: str) -> int:
    print(f"mqttsec audit: error: {message}", file=sys.stderr)
    return EXIT_ERROR
