"""What an audit is pointed at: ``mqtt[s]://HOST:PORT``, the trust store and the credentials.

Parsing happens before any network traffic, so a wrong URL or option is a usage error
(exit 2) with the fix named, never a half-run audit.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mqttsec.errors import ConfigError, TargetUnreachable
from mqttsec.fixtures.targets.base import Endpoint

__all__ = ["DEFAULT_PORTS", "AuditTarget", "Identity", "check_reachable", "parse_url"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
"""The IANA ports of MQTT and MQTT over TLS, used when the URL names none."""


def parse_url(url: str) -> tuple[bool, str, int]:
    """``mqtt[s]://HOST[:PORT]`` -> (tls, host, port); IPv6 hosts in brackets.

    Raises:
        ConfigError: another scheme, no host, a bad port, or a path/query/credentials part.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ConfigError(
            f"target {url!r}: use mqtt://HOST:PORT (plain) or mqtts://HOST:PORT (TLS)"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"target {url!r}: credentials do not belong in the URL; "
            "use --username and --password-env"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"target {url!r}: give only mqtt[s]://HOST:PORT, no path or query")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"target {url!r}: the port must be a number from 1 to 65535") from None
    host = parts.hostname
    if not host:
        raise ConfigError(f"target {url!r}: no host; e.g. mqtts://broker.example:8883")
    if port == 0:
        raise ConfigError(f"target {url!r}: the port must be a number from 1 to 65535")
    return scheme == "mqtts", host, port if port is not None else DEFAULT_PORTS[scheme]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the audit logs in as: anonymous (no username) or a username and password.

    Attributes:
        username: None for anonymous.
        password: the password (None: send none).
        label: how evidence names it (``anonymous``, ``user 'alice' (--username)``); never
            the password of user-given credentials.
    """

    username: str | None
    password: str | None
    label: str

    @classmethod
    def anonymous(cls) -> Identity:
        """No username, no password."""
        return cls(None, None, "anonymous")

    @property
    def is_anonymous(self) -> bool:
        """True without a username."""
        return self.username is None


@dataclass(frozen=True, slots=True)
class AuditTarget:
    """Everything the probes need to reach the broker.

    Attributes:
        url: as the user gave it (for the report).
        host: the broker's address.
        port: its port.
        tls: whether the URL was ``mqtts``.
        cafile: CA bundle to verify the server certificate with; None: the system store.
        username: given credentials (``--username``), or None.
        password: their password (from ``--password-env``), or None.
        timeout: the bound of every single network step, in seconds.
    """

    url: str
    host: str
    port: int
    tls: bool
    cafile: Path | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 5.0

    @classmethod
    def from_url(cls, url: str, **options: object) -> AuditTarget:
        """Parse *url* (see :func:`parse_url`) and add *options* (the other fields)."""
        tls, host, port = parse_url(url)
        return cls(url, host, port, tls, **options)  # type: ignore[arg-type]

    @property
    def endpoint(self) -> Endpoint:
        """The target as the clients of :mod:`mqttsec.fixtures` address it."""
        return Endpoint("audit", "tls" if self.tls else "plain", self.host, self.port)

    @property
    def given_identity(self) -> Identity | None:
        """The ``--username`` credentials as an :class:`Identity`, or None."""
        if self.username is None:
            return None
        return Identity(self.username, self.password, f"user {self.username!r} (--username)")

    @property
    def is_loopback(self) -> bool:
        """True when the host is a loopback address or ``localhost`` (traffic stays here)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def check_reachable(host: str, port: int, timeout: float) -> None:
    """Fail fast, with the fix, when nothing accepts TCP connections at ``host:port``.

    Raises:
        TargetUnreachable: unknown host, refused, unreachable or timed out.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        raise TargetUnreachable(f"cannot resolve host {host!r} ({exc.strerror})") from None
    except TimeoutError:
        raise TargetUnreachable(
            f"no answer from {host}:{port} within {timeout:g}s (filtered, or a wrong address); "
            "check the URL or raise --timeout"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TargetUnreachable(
            f"cannot reach {host}:{port} ({reason}); check the host and port"
        ) from None
