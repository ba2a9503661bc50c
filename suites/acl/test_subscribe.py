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

from ._support import (
    Actor,
    MqttClientFactory,
    narrow_readers,
    password_users,
    plan_leak,
    prove_absent,
    unique,
)


@pytest.mark.scenario(
    id="ACL-MULTI-FILTER-SUBSCRIBE",
    family="acl",
    severity="high",
    spec=["MQTT-3.8.4-3", "MQTT-3.8.4-4", "MQTT-3.9.3-1"],
)
def test_each_filter_is_checked(
    mqtt_client: MqttClientFactory, mqtt_profile: SecurityProfile
) -> None:
    """A user subscribes, in one SUBSCRIBE, to a topic it may read followed by topics it
    may not (and to ``#``), then in the other order on another connection. The allowed
    filter is granted; no message on a forbidden topic is delivered.

    Weakness class: only the first filter of a multi-filter SUBSCRIBE checked (a VerneMQ
    auth plugin), or one verdict applied to the whole packet.
    """
    users = password_users(mqtt_profile)
    writers = [Actor(mqtt_client, mqtt_profile, u) for u in users]
    checked = 0
    for name in users:
        probe = Actor(mqtt_client, mqtt_profile, name)
        if not narrow_readers(mqtt_profile, [probe]):
            continue
        leak = plan_leak(mqtt_profile, writers, probe)
        if leak is None:
            continue
        for allowed_first in (True, False):
            reader = Actor(mqtt_client, mqtt_profile, name)
            bad = [*leak.forbidden[:3], "#"]
            filters = [leak.sentinel, *bad] if allowed_first else [*bad, leak.sentinel]
            codes = reader.subscribe(*filters)
            assert len(codes) == len(filters), f"{len(filters)} filters, SUBACK codes {codes}"
            granted = codes[0] if allowed_first else codes[-1]
            assert granted < 0x80, f"the allowed filter {leak.sentinel!r} was refused: {codes}"
            forbidden = [(t, unique(f"multi-{name}").encode()) for t in leak.forbidden]
            prove_absent(reader, leak.writer, forbidden, leak.sentinel)
            checked += 1
    if not checked:
        mqttsec_unsupported(f"profile {mqtt_profile.name!r} has no user with narrow read rights")
