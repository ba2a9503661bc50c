"""Random bytes into a broker connection (no sockets): it never raises, never records an
internal error, and any protocol error leaves the connection closed."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttsec.reference_broker.config import BrokerConfig
from mqttsec.reference_broker.connection import Connection
from mqttsec.reference_broker.core import BrokerCore
from mqttsec.reference_broker.protocol import Connect, ProtocolVersion, encode
from mqttsec.reference_broker.states import ConnectionState


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("fuzz", 1) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


CONNECTS = [
    encode(Connect(client_id="f", protocol_version=ProtocolVersion.V311), ProtocolVersion.V311),
    encode(Connect(client_id="f", protocol_version=ProtocolVersion.V5), ProtocolVersion.V5),
    b"",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(CONNECTS),
    chunks=st.lists(st.binary(max_size=64), max_size=6),
    subscribe_first=st.booleans(),
)
def test_random_bytes_never_break_the_broker(
    prefix: bytes, chunks: list[bytes], subscribe_first: bool
) -> None:
    async def scenario() -> None:
        core = BrokerCore(
            BrokerConfig(port=0, max_packet_size=256), loop=asyncio.get_running_loop()
        )
        conn = Connection(core)
        transport = FakeTransport()
        conn.connection_made(transport)
        stream = [prefix]
        if subscribe_first and prefix:  # SUBSCRIBE "#": deliveries go to the fuzzed client
            v5 = prefix[8] == ProtocolVersion.V5
            stream.append(
                b"\x82\x07\x00\x01\x00\x00\x01#\x00" if v5 else b"\x82\x06\x00\x01\x00\x01#\x00"
            )
        for data in stream + chunks:
            if data:
                conn.data_received(data)
            core.flush()
        if conn.parser.error is not None:
            assert conn.state is ConnectionState.CLOSED
            assert transport.closed
        conn.connection_lost(None)
        core.flush()
        core.close()
        assert core.internal_errors == []
        assert not core.connections

    asyncio.run(scenario())
