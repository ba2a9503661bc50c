"""``mqttsec audit``: a black-box security posture check of an MQTT broker, no profile needed.

Point it at ``mqtt[s]://HOST:PORT``; it probes TLS, who may connect (anonymous, default
credentials, any password), what a logged-in client can read (``#``, ``$SYS/#``), client-id
takeover and packet-size limits, and reports one row per question with severity, evidence and
fix. Every network step is bounded by a timeout; guessing is bounded to a handful of tries.
"""

from .findings import Finding, Severity, exit_code
from .runner import CHECK_GROUPS, AuditOptions, AuditReport, run_audit
from .target import AuditTarget, Identity

__all__ = [
    "CHECK_GROUPS",
    "AuditOptions",
    "AuditReport",
    "AuditTarget",
    "Finding",
    "Identity",
    "Severity",
    "exit_code",
    "run_audit",
]
