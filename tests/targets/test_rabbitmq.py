"""The ``local:rabbitmq`` target (RabbitMQ 3.10 + rabbitmq_mqtt, private epmd); ~15-25 s start."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest

from mqttsec.fixtures.pki import PkiFiles
from mqttsec.fixtures.profile import SecurityProfile
from mqttsec.fixtures.targets import Capability, RunningTarget, get_target
from mqttsec.fixtures.targets._process import ProcessTarget, client_tls_context
from mqttsec.fixtures.targets.rabbitmq import topic_regex
from mqttsec.reference_broker.protocol import Puback, Publish, QoS

from ._comparison import require_installed
from .mqtt_client import connect
from .target_contract import TargetContract, login, port_closed

# One broker start per run: under --dist loadgroup (CI) the module stays on one worker.
pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.xdist_group("rabbitmq")]
NAME = "local:rabbitmq"


class TestRabbitMQ(TargetContract):
    MTLS_UNSUPPORTED = "one ssl_options for every MQTT TLS listener"

    @pytest.fixture(scope="class")
    @classmethod
    def running(
        cls, profile: SecurityProfile, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[RunningTarget]:
        require_installed(NAME)
        target = get_target(NAME)
        with target.start(profile, pki, tmp_path_factory.mktemp("rabbitmq"), timeout=120) as r:
            yield r
        assert isinstance(r, ProcessTarget)  # stopped: the node, its children and epmd
        assert all(p.process.poll() is not None for p in [r.process, *r.companions])
        assert all(port_closed(e.host, e.port) for e in r.endpoints.values())

    def test_wrong_password_code(self, running: RunningTarget) -> None:
        """The exact 3.1.1 refusal, as verified in docs/brokers.md."""
        assert connect(running.endpoint("plain"), "alice", "wrong")[1] == 4
        assert connect(running.endpoint("plain"), "nobody", "x")[1] in (4, 5)

    def test_capabilities(self, running: RunningTarget) -> None:
        assert Capability.MQTT5 not in running.capabilities
        assert Capability.SUBSCRIBE_TIME_ACL not in running.capabilities
        for key in ("mqtt5", "mtls:mtls", "acl-read-at-delivery", "per-listener-acl"):
            assert key in running.unsupported, key

    def test_certificate_is_the_username(self, running: RunningTarget, pki: PkiFiles) -> None:
        context = client_tls_context(running.cafile)
        pair = pki.pair("client-device-1")
        context.load_cert_chain(pair.certfile, pair.keyfile)
        client, code = connect(running.endpoint("mtls"), tls=context)
        assert client is not None, f"device-1 refused (CONNACK {code})"
        client.close()

    def test_user_and_client_id_patterns(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        """users/%u/# and devices/%c/telemetry become {username} / {client_id} regexes."""
        alice = login(running, profile, "alice", "plain")
        try:
            assert alice.subscribe("users/alice/#") == [1]
        finally:
            alice.close()
        bob, code = connect(
            running.endpoint("plain"), "bob", profile.users["bob"].password, client_id="dev9"
        )
        assert bob is not None, code
        try:
            bob.publish("devices/dev9/telemetry", b"ok", qos=1)  # PUBACK: allowed
            with pytest.raises((ConnectionError, OSError)):  # denied: RabbitMQ closes
                bob.publish("devices/dev8/telemetry", b"no", qos=1)
        finally:
            bob.close()

    def test_retained_only_for_exact_filters(
        self, running: RunningTarget, profile: SecurityProfile
    ) -> None:
        """What ``retain-wildcard`` declares: a retained message does not come through
        ``sensors/#`` (proven by a live sentinel after it), only for its exact topic."""
        assert "retain-wildcard" in running.unsupported
        admin = login(running, profile, "admin", "plain")
        alice = login(running, profile, "alice", "plain")
        topic = f"sensors/retained-{secrets.token_hex(4)}"
        try:
            admin.send(Publish(topic, b"kept", QoS.AT_LEAST_ONCE, retain=True, packet_id=1))
            admin.expect(Puback)
            assert alice.subscribe("sensors/#") == [1]
            admin.publish("sensors/sentinel", b"now", qos=1)
            assert alice.collect_until("sensors/sentinel", b"now") == []
            assert alice.subscribe(topic) == [1]
            admin.publish("sensors/sentinel", b"again", qos=1)
            assert alice.collect_until("sensors/sentinel", b"again") == [(topic, b"kept")]
        finally:
            admin.send(Publish(topic, b"", retain=True))
            admin.close()
            alice.close()

    def test_everything_on_loopback_and_stop(self, running: RunningTarget) -> None:
        assert isinstance(running, ProcessTarget)
        pids = [running.process.pid, *(c.pid for c in running.companions)]
        listening = subprocess.run(
            ["ss", "-Hltnp"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        ours = [line for line in listening.splitlines() if any(f"pid={p}," in line for p in pids)]
        assert ours, listening
        for line in ours:
            local = line.split()[3]
            assert local.startswith(("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:")), line


def test_topic_regex() -> None:
    assert topic_regex("sensors/#") == "sensors(\\..*)?"
    assert topic_regex("#") == "(?!\\$).*"  # no '$' topics [MQTT-4.7.2-1]
    assert topic_regex("+/x") == "(?!\\$)[^.]*\\.x"
    assert topic_regex("a/+/c") == "a\\.[^.]*\\.c"
    assert topic_regex("users/%u/#") == "users\\.{username}(\\..*)?"


def test_probe_reads_version() -> None:
    require_installed(NAME)
    found = get_target(NAME).probe()
    assert found.version and found.version[0].isdigit()
