"""The target registry and ``mqttsec targets``."""

from __future__ import annotations

import json

import pytest

from mqttsec.cli import main as cli_main
from mqttsec.errors import TargetError
from mqttsec.fixtures.targets import Endpoint, all_targets, get_target


def test_registry_knows_the_builtin_targets() -> None:
    names = [cls.name for cls in all_targets()]
    assert names[:4] == ["reference", "local:mosquitto", "local:amqtt", "endpoint"]
    assert get_target("local:mosquitto").name == "local:mosquitto"


def test_unknown_target_lists_known_ones() -> None:
    with pytest.raises(TargetError, match="known targets: reference, local:mosquitto"):
        get_target("local:nosuchbroker")


def test_endpoint_url() -> None:
    assert Endpoint("plain", "plain", "127.0.0.1", 1883).url == "mqtt://127.0.0.1:1883"
    assert Endpoint("m", "mtls", "::1", 8883).url == "mqtts://[::1]:8883"


def test_targets_command_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["targets"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["TARGET", "INSTALLED", "VERSION"]
    assert any(line.startswith("reference ") and " yes " in line for line in table.splitlines())
    assert cli_main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    reference = next(row for row in rows if row["name"] == "reference")
    assert reference["installed"] is True and "subscribe-time-acl" in reference["capabilities"]
    assert cli_main(["targets", "--bogus"]) == 2
