"""Example plugin: authorization by client certificate attributes.

Each device holds a certificate whose CN is its device name. A device may connect only with a
certificate from an allowed OU (or with a DNS SAN under an allowed domain), may publish only
under ``<prefix>/<CN>/...`` and subscribe only to filters inside that same subtree.

``broker.toml``::

    [[plugins]]
    path = "mqttsec.reference_broker.security.example_cert_authz:CertAuthzPlugin"
    options = { prefix = "devices", allowed_ous = ["fleet"], allowed_dns_suffixes = [".devices.example"] }

The CN becomes one topic level, so a CN holding ``/``, ``+``, ``#`` or nothing at all is
refused instead of widening the subtree (the CVE-2017-7650 class). Shared subscriptions
(``$share/<group>/<filter>``) are judged by their inner filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .identity import ClientCertificate
from .plugin_api import AuthResult, ClientInfo, ConnectInfo, Decision, PluginMessage

__all__ = ["CertAuthzPlugin"]

_NOT_AUTHORIZED = 0x87


def _strings(options: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = options.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"option {key!r} must be a list of non-empty strings")
    return tuple(value)


class CertAuthzPlugin:
    """Devices publish and subscribe only under ``<prefix>/<their CN>``.

    Options:
        prefix: first topic level of the device subtrees (default ``devices``).
        allowed_ous: certificate OUs that may connect.
        allowed_dns_suffixes: DNS SAN suffixes (e.g. ``.devices.example``) that may connect.
        At least one of the two lists must be given: an empty policy refuses to load
        rather than allow every certificate.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Validate the options (a bad option stops broker start-up)."""
        unknown = set(options) - {"prefix", "allowed_ous", "allowed_dns_suffixes"}
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        prefix = options.get("prefix", "devices")
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "/+#\x00"):
            raise ValueError("option 'prefix' must be one topic level without wildcards")
        self.prefix = prefix
        self.allowed_ous = frozenset(_strings(options, "allowed_ous"))
        self.allowed_dns_suffixes = tuple(
            s.lower() for s in _strings(options, "allowed_dns_suffixes")
        )
        if not self.allowed_ous and not self.allowed_dns_suffixes:
            raise ValueError(
                "give allowed_ous or allowed_dns_suffixes (an empty policy would allow any certificate)"
            )

    def _qualifies(self, cert: ClientCertificate) -> bool:
        if self.allowed_ous.intersection(cert.organizational_units):
            return True
        return any(
            name.lower().endswith(suffix)
            for name in cert.dns_names
            for suffix in self.allowed_dns_suffixes
        )

    def _device(self, client: ClientInfo) -> str | None:
        """The client's device level, or None if it has no usable, qualifying certificate."""
        cert = client.certificate
        if cert is None or not self._qualifies(cert):
            return None
        cn = cert.common_name
        if not cn or any(c in cn for c in "/+#\x00"):
            return None
        return cn

    def authenticate(self, connect: ConnectInfo) -> AuthResult:
        """Refuse clients without a qualifying certificate; leave the rest to the broker."""
        if self._device(connect.client) is None:
            return AuthResult(
                Decision.DENY,
                _NOT_AUTHORIZED,
                "no certificate with an allowed OU/SAN and a plain CN",
            )
        return AuthResult(Decision.NO_OPINION)

    def authorize_publish(self, client: ClientInfo, message: PluginMessage) -> bool:
        """Only topics ``<prefix>/<CN>`` and below."""
        device = self._device(client)
        if device is None:
            return False
        levels = message.topic.split("/")
        return levels[:2] == [self.prefix, device]

    def authorize_subscribe(self, client: ClientInfo, topic_filter: str, qos: int) -> bool:
        """Only filters whose first two levels are literally ``<prefix>/<CN>``."""
        device = self._device(client)
        if device is None:
            return False
        if topic_filter.startswith("$share/"):
            parts = topic_filter.split("/", 2)
            if len(parts) < 3:
                return False
            topic_filter = parts[2]
        return topic_filter.split("/")[:2] == [self.prefix, device]
