"""The target registry and ``mqttsec targets``."""

from __future__ import annotations

import json

import pytest

from mqttsec.cli import main as cli_main
from mqttsec.errors import TargetError
from mqttsec.fixtures.targets import Endpoint, all_targets, get_target, register_target


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


def test_a_module_imported_again_keeps_its_target_name() -> None:
    """pytester restores sys.modules after an in-process run, so a target module can be
    imported twice: the class defined anew is the same target; another class is refused."""
    import importlib
    import sys

    name = "mqttsec.fixtures.targets.aedes"
    aedes = importlib.import_module(name)  # (re)imported if an earlier pytester run dropped it
    first = get_target("local:aedes")
    del sys.modules[name]
    again = importlib.import_module(name)
    try:
        assert again.AedesTarget is not aedes.AedesTarget
        assert type(get_target("local:aedes")) is again.AedesTarget
        assert type(first).name == again.AedesTarget.name

        class Impostor(again.AedesTarget):  # type: ignore[misc,name-defined]
            pass

        with pytest.raises(TargetError, match="is taken by"):
            register_target(Impostor)
    finally:
        sys.modules[name] = aedes
        register_target(aedes.AedesTarget)
