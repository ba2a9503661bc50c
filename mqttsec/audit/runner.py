"""The audit run: every probe in order, each one's rows collected, timed and never lost.

Order matters. TLS comes first (its verdict decides whether the MQTT probes verify the
certificate or go on without), then the CONNECT probes that tell which versions and which
identities get in, then the checks that need a logged-in client, done as the least
privileged identity that got in: anonymous, else a guessed default credential, else a random
one (no password check), else the user's ``--username``. What an attacker without secrets can
do is what the audit is about; the user's own account is the fallback for looking inside.

A probe that fails unexpectedly becomes an ``error`` row and the run goes on; only an
unreachable broker (or one that speaks no MQTT there) stops the audit, with exit code 2.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from mqttsec.errors import TargetUnreachable
from mqttsec.reports.results import utc_now

from . import connect, credentials, limits, takeover, tls, topics
from .findings import Finding
from .probe import Prober
from .target import AuditTarget, Identity, check_reachable

__all__ = ["CHECK_GROUPS", "AuditOptions", "AuditReport", "run_audit"]

CHECK_GROUPS = ("tls", "plaintext", "credentials", "topics", "takeover", "limits")
"""Probe groups ``--skip`` may name (the CONNECT probes always run: everything needs them)."""


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How far the audit goes.

    Attributes:
        listen: seconds to keep collecting after the sentinel arrived through ``#``.
        large_publish: payload bytes of the large PUBLISH (0: skip it).
        plain_port: for ``mqtts`` targets, where to look for a plain listener (0: do not).
        skip: groups of :data:`CHECK_GROUPS` not to run.
        client_cert: (certfile, keyfile) for brokers that require a client certificate.
    """

    listen: float = 2.0
    large_publish: int = limits.DEFAULT_LARGE_PUBLISH
    plain_port: int = 1883
    skip: frozenset[str] = frozenset()
    client_cert: tuple[str, str | None] | None = None


@dataclass(slots=True)
class AuditReport:
    """The audit's outcome: the rows, who the inside checks ran as, when it ran."""

    target: AuditTarget
    findings: list[Finding] = field(default_factory=list)
    identity: str = ""
    versions: list[str] = field(default_factory=list)
    tls_verified: bool | None = None
    started: datetime = field(default_factory=utc_now)
    finished: datetime | None = None


Progress = Callable[[Finding], None]


def run_audit(
    target: AuditTarget, options: AuditOptions | None = None, progress: Progress | None = None
) -> AuditReport:
    """Audit *target*; *progress* is called with every row as soon as it is known.

    Raises:
        TargetUnreachable: nothing listens there, no TLS where ``mqtts`` was given, or no MQTT
            answer at any version.
    """
    options = options or AuditOptions()
    report = AuditReport(target)

    def add(rows: Iterable[Finding], duration: float) -> None:
        for row in rows:
            row = row.timed(duration) if row.duration == 0.0 else row
            report.findings.append(row)
            if progress is not None:
                progress(row)

    def step(name: str, probe: Callable[[], list[Finding]]) -> None:
        start = time.monotonic()
        try:
            rows = probe()
        except TargetUnreachable:
            raise
        except Exception as exc:  # noqa: BLE001 -- a broken probe is an error row, not a crash
            rows = [Finding.error(name, f"{name} probe failed", exc)]
        add(rows, time.monotonic() - start)

    check_reachable(target.host, target.port, target.timeout)
    context = None
    if target.tls:
        context = _tls_step(target, options, report, add)
    prober = Prober(target, context)
    start = time.monotonic()
    versions = connect.probe_versions(prober, target.given_identity)
    if versions.preferred is None:
        raise TargetUnreachable(
            f"{target.url}: no MQTT answer at 3.1, 3.1.1 or 5.0 ({versions.evidence()}); "
            + (
                "is this a TLS port? use mqtts://"
                if not target.tls
                else "does the broker need a client certificate? use --certfile/--keyfile"
            )
        )
    version = versions.preferred
    report.versions = versions.spoken
    add(
        [connect.versions_finding(versions), connect.anonymous_finding(versions)],
        time.monotonic() - start,
    )
    if "plaintext" not in options.skip:
        step(
            "TRANSPORT-PLAINTEXT",
            lambda: connect.plaintext_findings(prober, True, options.plain_port),
        )
    creds = credentials.CredentialReport()
    if "credentials" not in options.skip:

        def login_checks() -> list[Finding]:
            nonlocal creds
            creds = credentials.probe_credentials(
                prober, version, target.given_identity, bool(versions.anonymous_accepted)
            )
            return creds.findings

        step("AUTH-WEAK-CREDENTIALS", login_checks)
    elif target.given_identity is not None:
        creds.given_ok = target.given_identity
    identity, privileged = _inside_identity(versions, creds)
    report.identity = identity.label if identity else ""
    if identity is not None and identity.is_anonymous:
        version = versions.anonymous_accepted[-1]
    inside: list[tuple[str, tuple[str, ...], Callable[[Identity], list[Finding]]]] = [
        (
            "topics",
            ("TOPIC-WILDCARD", "TOPIC-SYS"),
            lambda who: topics.topic_findings(
                topics.observe_topics(prober, version, who, options.listen), privileged
            ),
        ),
        (
            "takeover",
            ("CLIENT-ID-TAKEOVER",),
            lambda who: [takeover.probe_takeover(prober, version, who, privileged)],
        ),
        (
            "limits",
            ("LIMIT-MAX-PACKET-SIZE", "LIMIT-LARGE-PUBLISH"),
            lambda who: limits.limit_findings(prober, version, who, options.large_publish),
        ),
    ]
    for group, row_ids, probe in inside:
        if group in options.skip:
            continue
        if identity is None:
            add([_no_login(row_id) for row_id in row_ids], 0.0)
        else:
            step(row_ids[0], functools.partial(probe, identity))
    report.finished = utc_now()
    return report


def _tls_step(
    target: AuditTarget,
    options: AuditOptions,
    report: AuditReport,
    add: Callable[[Iterable[Finding], float], None],
) -> ssl.SSLContext:
    """TLS probes (unless skipped); returns the context the MQTT probes use."""
    start = time.monotonic()
    certfile, keyfile = options.client_cert or (None, None)
    if "tls" in options.skip:
        return tls.client_context(target, verify=False, certfile=certfile, keyfile=keyfile)
    result = tls.probe_tls(target, options.client_cert)
    if result.certificate is None and not result.verified:
        raise TargetUnreachable(
            f"{target.url}: no TLS handshake ({result.handshake_error or result.verify_error}); "
            "is this a plain MQTT port? use mqtt://"
        )
    report.tls_verified = result.verified
    add(tls.tls_findings(target, result), time.monotonic() - start)
    # Go on with the audit either way; a failed verification is already a finding.
    return tls.client_context(target, verify=result.verified, certfile=certfile, keyfile=keyfile)


def _inside_identity(
    versions: connect.VersionReport, creds: credentials.CredentialReport
) -> tuple[Identity | None, bool]:
    """The least privileged identity that got in, and whether it is the user's own."""
    if versions.anonymous_accepted:
        return Identity.anonymous(), False
    if creds.weak:
        return creds.weak[0], False
    if creds.any_password is not None:
        return creds.any_password, False
    if creds.given_ok is not None:
        return creds.given_ok, True
    return None, False


_TITLES = {
    "TOPIC-WILDCARD": "Subscribe to #",
    "TOPIC-SYS": "Subscribe to $SYS/#",
    "CLIENT-ID-TAKEOVER": "Client-id takeover",
    "LIMIT-MAX-PACKET-SIZE": "Maximum Packet Size",
    "LIMIT-LARGE-PUBLISH": "Large PUBLISH",
}


def _no_login(row_id: str) -> Finding:
    return Finding.not_tested(
        row_id,
        _TITLES[row_id],
        "no identity could log in (anonymous refused, no default credentials accepted); "
        "give --username/--password-env to audit as a user",
    )
