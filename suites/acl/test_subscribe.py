"""ACL scenario: every filter of a SUBSCRIBE is judged on its own.

One SUBSCRIBE packet may carry many filters, and the broker answers one SUBACK code per
filter [MQTT-3.8.4-4]/[MQTT-3.9.3-1]. An authorization plugin that looks only at the first
filter, or decides for the packet as a whole, lets a forbidden filter ride along behind an
allowed one.
"""

from __future__ import annotations

import pytest

from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import RunningTarget

from ._judge import Lab
from ._support import MqttClientFactory, narrow_readers, plan_leak, prove_absent, unique


@pytest.mark.scenario(
    id="ACL-MULTI-FILTER-SUBSCRIBE",
    family="acl",
    severity="high",
    spec=["MQTT-3.8.4-3", "MQTT-3.8.4-4", "MQTT-3.9.3-1"],
)
def test_each_filter_is_checked(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile, mqtt_target: RunningTarget
) -> None:
    """A user subscribes, in one SUBSCRIBE, to a topic it may read followed by topics it
    may not (and to ``#``), then in the other order on another connection. The allowed
    filter is granted; no message on a forbidden topic is delivered.

    Weakness class: only the first filter of a multi-filter SUBSCRIBE checked (a VerneMQ
    auth plugin), or one verdict applied to the whole packet.
    """
    lab = Lab(mqtt_client, mqtt_profile, mqtt_target)
    checked = closed = 0
    for name in lab.users:
        probe = lab.actor(name)
        if not narrow_readers(mqtt_profile, [probe]):
            continue
        leak = plan_leak(mqtt_profile, lab.standing.values(), probe)
        if leak is None:
            continue
        for allowed_first in (True, False):
            reader = lab.actor(name)
            bad = [*leak.forbidden[:3], "#"]
            filters = [leak.sentinel, *bad] if allowed_first else [*bad, leak.sentinel]
            codes = reader.try_subscribe(*filters)
            if codes is None:
                closed += 1  # the whole packet refused by closing: no leak, nothing judged
                continue
            assert len(codes) == len(filters), f"{len(filters)} filters, SUBACK codes {codes}"
            granted = codes[0] if allowed_first else codes[-1]
            assert granted < 0x80, f"the allowed filter {leak.sentinel!r} was refused: {codes}"
            held = [f for f, c in zip(filters, codes, strict=True) if c < 0x80]
            topics = lab.beyond_limits(reader, held, leak.forbidden)
            forbidden = [(t, unique(f"multi-{name}").encode()) for t in topics]
            prove_absent(reader, leak.writer, forbidden, leak.sentinel)
            checked += 1
    if not checked and closed:
        mqttsec_unsupported(
            f"{mqtt_target.name} closes the connection on a SUBSCRIBE with forbidden filters, "
            "refusing the allowed one beside them too, so whether each filter is judged on "
            f"its own cannot be seen ({lab.limits.closes or 'not declared by the target'})"
        )
    if not checked:
        lab.nothing_checked(f"profile {mqtt_profile.name!r} has no user with narrow read rights")
