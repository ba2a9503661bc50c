"""Login checks: given credentials, whether passwords are checked at all, default credentials.

Bounded on purpose: one control login with a random username and password, then at most
:data:`WEAK_CREDENTIALS` (eight well-known defaults), sequentially, never in parallel. The
control's answer is the baseline: as soon as a refusal looks different (another CONNACK
code, the connection closed, or a much slower answer) the broker is taken to be throttling,
and guessing stops. An audit must never lock out real accounts or look like an attack.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from mqttsec.reports.results import Outcome

from .findings import Finding, Severity
from .probe import Attempt, Prober
from .target import Identity

__all__ = ["WEAK_CREDENTIALS", "CredentialReport", "probe_credentials"]

WEAK_CREDENTIALS: tuple[tuple[str, str], ...] = (
    ("admin", "admin"),
    ("admin", "password"),
    ("admin", "public"),  # EMQX's dashboard default
    ("guest", "guest"),  # RabbitMQ's default user
    ("mosquitto", "mosquitto"),
    ("user", "user"),
    ("test", "test"),
    ("mqtt", "mqtt"),
)
"""The default and weak credentials tried, in order (public lists; nothing is brute-forced)."""

_SLOWDOWN = 1.0
"""Seconds a refusal may take beyond 5x the control's before it counts as a tarpit."""


@dataclass(slots=True)
class CredentialReport:
    """What the login probes found.

    Attributes:
        findings: the rows (AUTH-GIVEN-CREDENTIALS, AUTH-ANY-PASSWORD,
            AUTH-WEAK-CREDENTIALS, AUTH-THROTTLING).
        given_ok: the ``--username`` credentials were accepted.
        any_password: a random username and password were accepted (the control identity).
        weak: default credentials that were accepted.
    """

    findings: list[Finding] = field(default_factory=list)
    given_ok: Identity | None = None
    any_password: Identity | None = None
    weak: list[Identity] = field(default_factory=list)


def probe_credentials(
    prober: Prober,
    version: str,
    given: Identity | None,
    anonymous_allowed: bool,
) -> CredentialReport:
    """Run the login checks at *version* (the newest the broker speaks)."""
    report = CredentialReport()
    if given is not None:
        attempt = prober.attempt(version, given)
        if attempt.accepted:
            report.given_ok = given
            report.findings.append(
                Finding.ok("AUTH-GIVEN-CREDENTIALS", "Given credentials accepted", _line(attempt))
            )
        else:
            report.findings.append(
                Finding(
                    "AUTH-GIVEN-CREDENTIALS",
                    Severity.INFO,
                    "Given credentials refused",
                    Outcome.ERROR,
                    f"{_line(attempt)}; check --username and the variable named by "
                    "--password-env (the audit went on without them)",
                )
            )
    control = Identity(
        f"mqttsec-audit-{secrets.token_hex(4)}",
        secrets.token_urlsafe(12),
        "a random username and password",
    )
    baseline = prober.attempt(version, control)
    if baseline.accepted:
        report.any_password = control
        report.findings.append(_any_password(baseline, anonymous_allowed))
        report.findings.append(
            Finding.not_tested(
                "AUTH-WEAK-CREDENTIALS",
                "Default credentials",
                "not tried: any username and password is accepted",
            )
        )
        return report
    tried: list[str] = []
    throttled: Attempt | None = None
    for username, password in WEAK_CREDENTIALS:
        identity = Identity(username, password, f"default credential {username}/{password}")
        attempt = prober.attempt(version, identity)
        tried.append(f"{username}/{password}")
        if attempt.accepted:
            report.weak.append(identity)
        elif _throttled(baseline, attempt):
            throttled = attempt
            break
    report.findings.append(_weak_finding(report.weak, tried, baseline, throttled))
    report.findings.append(_throttle_finding(len(tried) - len(report.weak), baseline, throttled))
    return report


def _line(attempt: Attempt) -> str:
    return f"{attempt.identity.label} at MQTT {attempt.version}: {attempt.describe()}"


def _throttled(baseline: Attempt, attempt: Attempt) -> bool:
    """Does *attempt*'s refusal differ from the control's, as a throttling broker's would?"""
    if attempt.code != baseline.code:
        return True
    return attempt.elapsed > max(5 * baseline.elapsed, baseline.elapsed + _SLOWDOWN)


def _any_password(attempt: Attempt, anonymous_allowed: bool) -> Finding:
    if anonymous_allowed:
        severity, why = Severity.MEDIUM, "passwords are not checked (follows from anonymous access)"
    else:
        severity, why = Severity.HIGH, "anonymous clients are refused, but any password works"
    return Finding.issue(
        "AUTH-ANY-PASSWORD",
        severity,
        "Any username and password accepted",
        f"{_line(attempt)}; {why}",
        "check credentials against a password store: mosquitto `password_file` (with "
        "`allow_anonymous false`), or an authentication plugin; a username alone must not "
        "grant access",
    )


def _weak_finding(
    weak: list[Identity], tried: list[str], baseline: Attempt, throttled: Attempt | None
) -> Finding:
    if weak:
        names = ", ".join(f"{i.username}/{i.password}" for i in weak)
        return Finding.issue(
            "AUTH-WEAK-CREDENTIALS",
            Severity.CRITICAL,
            f"Default credentials accepted: {names}",
            f"tried {len(tried)} well-known credentials ({', '.join(tried)}); accepted: "
            f"{names}; a random control login was refused ({baseline.describe()})",
            "remove default accounts or give them long random passwords (mosquitto: "
            "mosquitto_passwd -U / mqttsec passwd); never ship a deployment with vendor "
            "defaults",
        )
    if throttled is not None:
        return Finding.not_tested(
            "AUTH-WEAK-CREDENTIALS",
            "Default credentials",
            f"stopped after {len(tried)} of {len(WEAK_CREDENTIALS)} tries when the broker "
            f"began throttling; none of {', '.join(tried)} was accepted",
        )
    return Finding.ok(
        "AUTH-WEAK-CREDENTIALS",
        "No default credentials accepted",
        f"all {len(tried)} refused ({', '.join(tried)}): {baseline.describe()}",
    )


def _throttle_finding(refused: int, baseline: Attempt, throttled: Attempt | None) -> Finding:
    failures = 1 + refused  # the control login counts
    if throttled is not None:
        return Finding.ok(
            "AUTH-THROTTLING",
            f"Failed logins throttled after {failures - 1}",
            f"control login: {baseline.describe()} in {baseline.elapsed:.2f}s; attempt "
            f"{failures}: {throttled.describe()} in {throttled.elapsed:.2f}s",
        )
    return Finding.note(
        "AUTH-THROTTLING",
        f"No login throttling seen in {failures} failed logins",
        f"every refusal was {baseline.describe()} (about {baseline.elapsed:.2f}s); the audit "
        "stops at a handful of tries, so a higher threshold cannot be seen",
        "limit failed logins per address and username (reference broker: "
        "login_throttle_attempts; EMQX: flapping detect / banned; mosquitto: a plugin or "
        "fail2ban on its log)",
    )
