"""``mqttsec replay FILE --target T``: send a reproducer's bytes again and say what happens.

Each client's recorded stream is sent byte for byte on its own connection, the answer is
judged as during fuzzing, and the broker's survival is checked. Exit 1 when the finding
reproduces (the broker went down, or the same kind of deviation), 0 when it does not,
2 when the replay cannot happen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mqttsec.errors import MQTTSecError
from mqttsec.fixtures.profile import load_profile
from mqttsec.reference_broker.protocol import ProtocolVersion

from .harness import BrokerDown, BrokerHarness
from .mutations import Malformed
from .reproducer import load_reproducer
from .session import FuzzTarget

__all__ = ["main", "replay"]


def replay(
    path: Path, target_spec: str | None, profile_path: Path | None = None
) -> tuple[bool, str]:
    """Replay the reproducer at *path*; returns (reproduced, what happened)."""
    rep = load_reproducer(path)
    version = ProtocolVersion.V5 if rep.mqtt_version == "5.0" else ProtocolVersion.V311
    profile = load_profile(profile_path) if profile_path else None
    with tempfile.TemporaryDirectory(prefix="mqttsec-replay-") as work:
        target = FuzzTarget(target_spec or rep.target, Path(work), profile)
        endpoint = target.start()
        harness = BrokerHarness(
            endpoint.host, endpoint.port, target.login, answer_timeout=2.0,
            probe_version=target.versions[-1],
        )  # fmt: skip
        lines: list[str] = []
        reproduced = False
        try:
            for client in rep.clients:
                case = Malformed(rep.label, version, client.send, client.login)
                seen = harness.exchange(client.send, version)
                verdict = harness.judge(case, client.send, seen)
                names = ", ".join(type(p).__name__ for p in seen.packets) or "nothing"
                lines.append(
                    f"{client.name}: sent {len(client.send)} bytes; broker {seen.answer.value} "
                    f"after sending {names}; verdict {verdict.kind} {verdict.detail}".rstrip()
                )
                reproduced |= rep.outcome == verdict.kind
            try:
                harness.survives()
                lines.append("broker still serves: a client round-tripped a message")
            except BrokerDown as exc:
                lines.append(f"BROKER DOWN: {exc}")
                reproduced |= rep.outcome == "fail"
        finally:
            harness.close()
            try:
                target.stop()
            except MQTTSecError as exc:
                lines.append(f"stopping the broker failed: {exc}")
                reproduced |= rep.outcome == "fail"
    return reproduced, "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mqttsec replay``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="mqttsec replay", description="Replay a fuzz reproducer against a target."
    )
    parser.add_argument("file", type=Path, help="reproducer JSON written by mqttsec fuzz")
    parser.add_argument("--target", help="target spec (default: the one in the file)")
    parser.add_argument("--profile", type=Path, help="security profile TOML (default: shipped)")
    args = parser.parse_args(argv)
    try:
        reproduced, text = replay(args.file, args.target, args.profile)
    except MQTTSecError as exc:
        print(f"mqttsec replay: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print("REPRODUCED" if reproduced else "did not reproduce")
    return 1 if reproduced else 0
