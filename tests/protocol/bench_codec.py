"""Micro benchmark of the hot path: ``python -m tests.protocol.bench_codec`` (not a test).

Prints packets per second for decode, encode and StreamParser.feed of 64-byte PUBLISH
packets (QoS 0 and 1, MQTT 3.1.1 and 5.0); best of several runs, one core.
"""

from __future__ import annotations

import time
import timeit

from mqttsec.reference_broker.protocol import (
    Connect,
    ProtocolVersion,
    Publish,
    QoS,
    StreamParser,
    decode,
    encode,
)


def main() -> None:
    for version in ProtocolVersion:
        connect = encode(Connect("bench", version), version)
        for qos in (0, 1):
            size = 64 - 22 - (2 if qos else 0) - (1 if version is ProtocolVersion.V5 else 0)
            packet = Publish("sensors/room1/temp", b"x" * size, QoS(qos), packet_id=qos or None)
            raw = encode(packet, version)
            assert len(raw) == 64
            blob = raw * ((1 << 20) // 64)
            feed_rate = 0.0
            for _ in range(5):
                parser = StreamParser()
                parser.feed(connect)
                start = time.perf_counter()
                count = len(parser.feed(blob))
                feed_rate = max(feed_rate, count / (time.perf_counter() - start))
            n = 100_000
            dec = (
                min(timeit.repeat(lambda raw=raw, v=version: decode(raw, v), number=n, repeat=5))
                / n
            )
            enc = (
                min(timeit.repeat(lambda p=packet, v=version: encode(p, v), number=n, repeat=5)) / n
            )
            print(
                f"{version.name:5} QoS{qos}: feed(1 MiB) {feed_rate:>9,.0f} pkt/s   "
                f"decode {1 / dec:>9,.0f}/s   encode {1 / enc:>9,.0f}/s"
            )


if __name__ == "__main__":
    main()
