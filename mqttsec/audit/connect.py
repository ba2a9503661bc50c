"""Who may connect and how: MQTT versions spoken, anonymous access, plaintext listeners.

One anonymous CONNECT per version (3.1, 3.1.1, 5.0) answers two questions at once: whether
the broker speaks that version (any CONNACK but "unsupported version") and whether it lets a
client in without credentials. Plaintext is a property of the listener: an ``mqtt://``
target is one; for an ``mqtts://`` target the usual plain port on the same host is tried too.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass

from .findings import Finding, Severity
from .probe import MQTT_VERSIONS, Attempt, Prober
from .target import Identity

__all__ = ["VersionReport", "anonymous_finding", "plaintext_findings", "probe_versions"]


@dataclass(frozen=True, slots=True)
class VersionReport:
    """The anonymous CONNECT attempt at each version, and what follows from them."""

    attempts: dict[str, Attempt]

    @property
    def spoken(self) -> list[str]:
        """Versions the broker answered with a CONNACK other than "unsupported version"."""
        return [v for v, a in self.attempts.items() if a.answered]

    @property
    def preferred(self) -> str | None:
        """The newest spoken version (the later probes use it), None if none answered."""
        spoken = self.spoken
        return spoken[-1] if spoken else None

    @property
    def anonymous_accepted(self) -> list[str]:
        """Versions at which an anonymous client was let in."""
        return [v for v, a in self.attempts.items() if a.accepted and a.identity.is_anonymous]

    def evidence(self) -> str:
        """One line: every version and its answer."""
        return "; ".join(
            f"MQTT {v} ({a.identity.label}): {a.describe()}" for v, a in self.attempts.items()
        )


def probe_versions(prober: Prober, fallback: Identity | None = None) -> VersionReport:
    """CONNECT anonymously at each version; where no CONNACK came at all, try *fallback*
    (the ``--username`` credentials) too, since some brokers close on anonymous CONNECTs."""
    attempts: dict[str, Attempt] = {}
    for version in MQTT_VERSIONS:
        attempt = prober.attempt(version, Identity.anonymous())
        if attempt.code is None and fallback is not None:
            attempt = prober.attempt(version, fallback)
        attempts[version] = attempt
    return VersionReport(attempts)


def versions_finding(report: VersionReport) -> Finding:
    """MQTT-VERSIONS: which protocol versions the broker speaks (information)."""
    spoken = report.spoken
    if not spoken:
        return Finding.not_tested("MQTT-VERSIONS", "MQTT versions", report.evidence())
    return Finding.note("MQTT-VERSIONS", f"Speaks MQTT {', '.join(spoken)}", report.evidence())


def anonymous_finding(report: VersionReport) -> Finding:
    """AUTH-ANONYMOUS: high when a client without credentials is let in at any version."""
    evidence = report.evidence()
    accepted = report.anonymous_accepted
    if accepted:
        return Finding.issue(
            "AUTH-ANONYMOUS",
            Severity.HIGH,
            f"Anonymous clients can connect (MQTT {', '.join(accepted)})",
            evidence,
            "refuse clients without credentials: mosquitto `allow_anonymous false` (the "
            "mosquitto 2 default once a listener is configured), EMQX `allow_anonymous = "
            "false`; give every client its own username and password or certificate",
        )
    tried_anonymously = [
        a for a in report.attempts.values() if a.identity.is_anonymous and a.answered
    ]
    if tried_anonymously:
        return Finding.ok("AUTH-ANONYMOUS", "Anonymous clients are refused", evidence)
    return Finding.not_tested(
        "AUTH-ANONYMOUS", "Anonymous access", f"no version answered anonymously: {evidence}"
    )


_PLAIN_FIX = (
    "serve MQTT over TLS only (port 8883; mosquitto: a listener with certfile/keyfile) and "
    "close the plain listener, or bind it to 127.0.0.1 for local clients only"
)


def plaintext_findings(prober: Prober, spoken: bool, plain_port: int) -> list[Finding]:
    """TRANSPORT-PLAINTEXT: is MQTT offered without TLS?

    Args:
        prober: the target's prober.
        spoken: whether the target itself answered MQTT (for an ``mqtt://`` target).
        plain_port: for an ``mqtts://`` target, the port to look for a plain listener on
            (0: do not look).
    """
    target = prober.target
    severity = Severity.LOW if target.is_loopback else Severity.HIGH
    where = (
        "on loopback only: traffic stays on this machine"
        if target.is_loopback
        else ("credentials and messages cross the network in clear text")
    )
    if not target.tls:
        if not spoken:
            return [
                Finding.not_tested(
                    "TRANSPORT-PLAINTEXT", "Plaintext listener", "no MQTT answer on this port"
                )
            ]
        return [
            Finding.issue(
                "TRANSPORT-PLAINTEXT",
                severity,
                "MQTT without TLS",
                f"{target.url} answers MQTT in plain TCP ({where})",
                _PLAIN_FIX,
            )
        ]
    if plain_port == 0:
        return [
            Finding.not_tested(
                "TRANSPORT-PLAINTEXT", "Plaintext listener", "skipped (--plain-port 0)"
            )
        ]
    host = f"[{target.host}]" if ":" in target.host else target.host
    url = f"mqtt://{host}:{plain_port}"
    try:
        with socket.create_connection((target.host, plain_port), timeout=target.timeout):
            pass
    except OSError as exc:
        return [
            Finding.ok(
                "TRANSPORT-PLAINTEXT",
                f"No plaintext listener on port {plain_port}",
                f"{url}: {exc.strerror or type(exc).__name__}",
            )
        ]
    plain = dataclasses.replace(target, url=url, port=plain_port, tls=False)
    attempt = Prober(plain).attempt("3.1.1", Identity.anonymous())
    if not attempt.answered:
        return [
            Finding.ok(
                "TRANSPORT-PLAINTEXT",
                f"Port {plain_port} does not answer plain MQTT",
                f"{url}: port open, CONNECT answered with {attempt.describe()}",
            )
        ]
    return [
        Finding.issue(
            "TRANSPORT-PLAINTEXT",
            severity,
            f"Plaintext MQTT listener also open on port {plain_port}",
            f"{url} answers a plain CONNECT: {attempt.describe()} ({where})",
            _PLAIN_FIX,
        )
    ]
