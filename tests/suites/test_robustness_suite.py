"""The robustness family (``mqttsec.suites.robustness``) run as users run it, in a
subprocess: every scenario passes against the reference broker, none is a harness error
or unsupported against mosquitto (its fails there would be findings about mosquitto), and
the scenarios can fail: against a broker that checks nothing, they do."""

from __future__ import annotations

from pathlib import Path

import pytest
from family_run import VERSIONS, describe, run_family
from lax_broker import LaxBroker

_BOTH = (
    "ROB-CLIENT-CONNACK",
    "ROB-EMPTY-TOPIC",
    "ROB-INVALID-UTF8-TOPIC",
    "ROB-CONNECT-HEADER",
    "ROB-GARBAGE-BEFORE-CONNECT",
    "ROB-TRUNCATED-PACKET",
    "ROB-PACKET-TOO-LARGE",
    "ROB-PUBLISH-BEFORE-CONNECT",
    "ROB-SUBSCRIBE-BEFORE-CONNECT",
    "ROB-CLIENT-SERVER-PACKETS",
    "ROB-RESERVED-PACKET-TYPE",
    "ROB-SUBSCRIBE-RESERVED-FLAGS",
    "ROB-EMPTY-SUBSCRIPTION-LIST",
    "ROB-PUBLISH-QOS3",
    "ROB-WILDCARD-TOPIC-NAME",
    "ROB-PUBLISH-PACKET-ID-ZERO",
    "ROB-CONNECT-WILL-QOS3",
    "ROB-CONNECT-WILL-BITS-WITHOUT-WILL",
    "ROB-CONNECT-FIELD-OVERRUN",
    "ROB-CLIENT-ID-MAXIMUM",
    "ROB-UNSUPPORTED-PROTOCOL-LEVEL",
    "ROB-KEEPALIVE-HALF-OPEN",
    "ROB-CONNECTION-FLOOD",
    "ROB-SLOW-CONSUMER",
    "ROB-SUBSCRIBE-MANY-FILTERS",
    "ROB-DEEP-TOPIC",
    "ROB-QOS2-UNRELEASED-FLOOD",
    "ROB-FAILED-LOGIN-BURST",
)
_V5_ONLY = (
    "ROB-PUBLISH-BAD-PROPERTIES",
    "ROB-TOPIC-ALIAS-INVALID",
    "ROB-NON-MINIMAL-LENGTH",
)
SCENARIOS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(_BOTH, VERSIONS),
    **dict.fromkeys(_V5_ONLY, ("5.0",)),
}


def test_robustness_family_passes_on_the_reference_broker(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.robustness", "reference", tmp_path, SCENARIOS)
    bad = [r for r in rows if r["outcome"] != "pass"]
    assert not bad, describe(bad)
    assert all(r["family"] == "robustness" and r["target"] == "reference" for r in rows)


@pytest.mark.mosquitto
def test_robustness_family_runs_cleanly_on_mosquitto(tmp_path: Path) -> None:
    rows = run_family("mqttsec.suites.robustness", "local:mosquitto", tmp_path, SCENARIOS)
    errors = [r for r in rows if r["outcome"] in ("error", "unsupported")]
    assert not errors, describe(errors)


#: What a broker that checks nothing (tests/suites/lax_broker.py) must be caught at, with
#: the test that checks it (the run is limited to these: against a broker that never
#: closes anything, every other scenario spends its bounded waits).
MUST_FAIL_ON_LAX_BROKER = {
    "ROB-PUBLISH-BEFORE-CONNECT": "test_publish_before_connect_not_forwarded",
    "ROB-WILDCARD-TOPIC-NAME": "test_wildcard_topic_name_not_forwarded",
    "ROB-CONNECT-WILL-QOS3": "test_will_qos_3",
    "ROB-CONNECT-FIELD-OVERRUN": "test_connect_field_runs_past_the_packet",
    "ROB-UNSUPPORTED-PROTOCOL-LEVEL": "test_unknown_protocol_level",
}


def test_robustness_family_catches_a_broker_that_checks_nothing(tmp_path: Path) -> None:
    """Scenarios against :class:`LaxBroker` (accepts every CONNECT, acts on packets before
    CONNECT, forwards every PUBLISH as is, never closes), reached as an endpoint: each
    fails."""
    with LaxBroker() as broker:
        rows = run_family(
            "mqttsec.suites.robustness",
            f"endpoint:mqtt://127.0.0.1:{broker.port}",
            tmp_path,
            {name: SCENARIOS[name] for name in MUST_FAIL_ON_LAX_BROKER},
            "-k",
            " or ".join(MUST_FAIL_ON_LAX_BROKER.values()),
            "-n",
            "2",
        )
    missed = [r for r in rows if r["outcome"] != "fail"]
    assert not missed, describe(missed)
