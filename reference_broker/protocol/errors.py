"""Protocol errors: what was wrong, whose fault it was, and the reason code to answer with.

A decoder error is the remote peer's fault (``remote=True``): the broker answers with the
carried reason code (in 5.0, DISCONNECT or CONNACK with it) and closes the connection.
Encoding an invalid packet is our own caller's fault (``remote=False``).
A bug inside the codec is a plain RuntimeError, never dressed up as an MQTT error.
"""

from __future__ import annotations

from mqttsec.errors import MQTTSecError

from .enums import ReasonCode

__all__ = [
    "MalformedPacket",
    "PacketTooLarge",
    "ProtocolError",
    "ProtocolViolation",
    "UnsupportedProtocolVersion",
]


class ProtocolError(MQTTSecError):
    """Base of all MQTT protocol errors.

    Attributes:
        reason_code: the MQTT 5.0 reason code a broker must answer with.
        spec: the normative statement violated, e.g. ``"MQTT-3.1.2-3"`` (may be empty).
        remote: True when the peer sent it, False when our caller tried to send it.
        message: the description without the spec reference.
        packets_before: packets a stream parser decoded from the same data before the error,
            so that a broker can still act on them (empty unless raised by ``feed``).
    """

    default_reason: ReasonCode = ReasonCode.PROTOCOL_ERROR

    def __init__(
        self,
        message: str,
        *,
        spec: str = "",
        reason_code: ReasonCode | None = None,
        remote: bool = True,
    ) -> None:
        self.message = message
        self.reason_code = reason_code if reason_code is not None else self.default_reason
        self.spec = spec
        self.remote = remote
        self.packets_before: tuple[object, ...] = ()
        suffix = f" [{spec}]" if spec else ""
        super().__init__(f"{message}{suffix}")

    def as_local(self) -> ProtocolError:
        """The same error blamed on our own caller (``remote=False``), for the encoder."""
        return type(self)(self.message, spec=self.spec, reason_code=self.reason_code, remote=False)


class MalformedPacket(ProtocolError):
    """The bytes cannot be parsed according to the specification (0x81)."""

    default_reason = ReasonCode.MALFORMED_PACKET


class ProtocolViolation(ProtocolError):
    """The packet parses but breaks a protocol rule (0x82)."""

    default_reason = ReasonCode.PROTOCOL_ERROR


class PacketTooLarge(ProtocolError):
    """The packet exceeds the maximum packet size in force (0x95)."""

    default_reason = ReasonCode.PACKET_TOO_LARGE


class UnsupportedProtocolVersion(ProtocolError):
    """CONNECT names a protocol level other than 4 (3.1.1) or 5 (5.0).

    The broker answers CONNACK 0x01 (3.1.1 numbering) or 0x84 and closes [MQTT-3.1.2-2].
    """

    default_reason = ReasonCode.UNSUPPORTED_PROTOCOL_VERSION
