"""A byte-stream to packets parser for one side of one connection (sans-IO).

``StreamParser.feed(data)`` accepts any split of the stream and returns the packets completed
so far. It refuses a packet as soon as its first byte is known to be wrong (a type this side
never receives, forbidden flags, anything but CONNECT first) and checks the Remaining Length
against ``max_packet_size`` as soon as the fixed header is complete, before buffering any of
the body: the buffer never holds more than one partial packet of at most that size.
After an error the parser is dead: every later ``feed`` raises the same error.
"""

from __future__ import annotations

from functools import cache
from typing import Final, Literal

from ._decoders import DECODERS, Decoder, reject_first_byte
from .codec import MAX_PACKET_SIZE, check_first_byte, parse_fixed_header
from .enums import PacketType, ProtocolVersion
from .errors import PacketTooLarge, ProtocolError, ProtocolViolation
from .packets import Connect, Packet, Publish
from .properties import NO_PROPERTIES, PropertyId
from .rules import CLIENT_PACKET_TYPES, SERVER_PACKET_TYPES

__all__ = ["Role", "StreamParser"]

Role = Literal["server", "client"]
_V5 = ProtocolVersion.V5
_CONNECT_ONLY: Final = tuple(
    DECODERS[_V5][b0] if b0 >> 4 == PacketType.CONNECT else None for b0 in range(256)
)


@cache  # pure; rebuilding the 256-entry table for every parser showed up in fuzz profiles
def _table(version: ProtocolVersion | None, role: Role) -> tuple[Decoder | None, ...]:
    if version is None:
        return _CONNECT_ONLY
    allowed = (CLIENT_PACKET_TYPES if role == "server" else SERVER_PACKET_TYPES)[version]
    return tuple(dec if b0 >> 4 in allowed else None for b0, dec in enumerate(DECODERS[version]))


class StreamParser:
    """Split a received byte stream into packets.

    Args:
        version: the connection's protocol version; None until CONNECT, when only CONNECT can
            be decoded [MQTT-3.1.0-1] and the parser then adopts the version it names.
        max_packet_size: the largest whole packet (fixed header included) accepted.
        role: ``"server"`` parses what a client sends, ``"client"`` what a server sends.
    """

    __slots__ = ("_buf", "_connected", "_error", "_max", "_need", "_role", "_table", "_version")

    def __init__(
        self,
        version: ProtocolVersion | None = None,
        *,
        max_packet_size: int = MAX_PACKET_SIZE,
        role: Role = "server",
    ) -> None:
        if role not in ("server", "client"):
            raise ValueError(f"role must be 'server' or 'client', not {role!r}")
        if not 2 <= max_packet_size <= MAX_PACKET_SIZE:
            raise ValueError(f"max_packet_size must be 2..{MAX_PACKET_SIZE}")
        self._role: Role = role
        self._max = max_packet_size
        self._buf = bytearray()
        self._need = 0
        self._error: ProtocolError | None = None
        self._connected = False
        self._version: ProtocolVersion | None = None
        self._table: tuple[Decoder | None, ...] = _CONNECT_ONLY
        self.version = version

    @property
    def version(self) -> ProtocolVersion | None:
        """The protocol version in force (set by CONNECT when the role is server)."""
        return self._version

    @version.setter
    def version(self, version: ProtocolVersion | None) -> None:
        self._version = None if version is None else ProtocolVersion(version)
        self._table = _table(self._version, self._role)

    @property
    def max_packet_size(self) -> int:
        """The largest whole packet accepted; may be lowered, e.g. after CONNECT."""
        return self._max

    @max_packet_size.setter
    def max_packet_size(self, value: int) -> None:
        if not 2 <= value <= MAX_PACKET_SIZE:
            raise ValueError(f"max_packet_size must be 2..{MAX_PACKET_SIZE}")
        self._max = value

    @property
    def buffered(self) -> int:
        """How many bytes of an incomplete packet are held."""
        return len(self._buf)

    @property
    def error(self) -> ProtocolError | None:
        """The error that ended the stream, if any."""
        return self._error

    def _reject(self, b0: int) -> None:
        version = self._version
        if version is None:
            check_first_byte(b0, None)  # anything but CONNECT first [MQTT-3.1.0-1]
            raise AssertionError("unreachable")
        ptype = b0 >> 4
        allowed = (CLIENT_PACKET_TYPES if self._role == "server" else SERVER_PACKET_TYPES)[version]
        if ptype and ptype not in allowed:
            sender = "client" if self._role == "server" else "server"
            raise ProtocolViolation(
                f"{PacketType(ptype).name} is never sent by a {sender} "
                f"(MQTT {'5.0' if version is _V5 else '3.1.1'})",
                spec="5.0 §2.1.2",
            )
        reject_first_byte(b0, version)

    def _after_connect(self, packet: Connect) -> None:
        if self._role == "server":
            if self._connected:
                raise ProtocolViolation("a second CONNECT on one connection", spec="MQTT-3.1.0-2")
            self._connected = True
        self.version = packet.protocol_version

    def feed(self, data: bytes | bytearray | memoryview) -> list[Packet]:
        """Add received bytes; return every packet they complete, in order.

        Raises:
            ProtocolError: the stream breaks a rule. Packets decoded from the same call before
                the bad one are in the exception's ``packets_before``.
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return []
            data = bytes(buf)
            buf.clear()
        elif type(data) is not bytes:
            data = bytes(data)
        out: list[Packet] = []
        try:
            pos = self._parse(data, out)
        except ProtocolError as exc:
            exc.packets_before = tuple(out)
            self._error = exc
            self._buf = bytearray()
            raise
        if pos < len(data):
            buf += memoryview(data)[pos:]
        return out

    def _parse(self, data: bytes, out: list[Packet]) -> int:
        n = len(data)
        pos = 0
        table = self._table
        limit = self._max
        check_sub_id = self._role == "server" and self._version is _V5
        append = out.append
        self._need = 0
        while pos < n:
            b0 = data[pos]
            decoder = table[b0]
            if decoder is None:
                self._reject(b0)
                raise AssertionError("unreachable")
            if pos + 1 >= n:
                return pos
            length = data[pos + 1]
            if length < 0x80:
                start = pos + 2
            else:
                header = parse_fixed_header(data, pos)
                if header is None:
                    return pos
                length, hlen = header
                start = pos + hlen
            end = start + length
            if end - pos > limit:
                raise PacketTooLarge(
                    f"{PacketType(b0 >> 4).name}: packet of {end - pos} bytes exceeds the "
                    f"maximum packet size {limit}",
                    spec="MQTT-3.2.2-15",
                )
            if end > n:
                self._need = end - pos
                return pos
            packet = decoder(b0, data[start:end])
            if b0 == 0x10:
                assert isinstance(packet, Connect)
                self._after_connect(packet)
                table = self._table
                check_sub_id = self._role == "server" and self._version is _V5
            elif check_sub_id and b0 >> 4 == 3:
                assert isinstance(packet, Publish)
                props = packet.properties
                if props is not NO_PROPERTIES and PropertyId.SUBSCRIPTION_IDENTIFIER in props:
                    raise ProtocolViolation(
                        "PUBLISH from a client carries a subscription identifier",
                        spec="MQTT-3.3.4-6",
                    )
            pos = end
            append(packet)
        return pos
