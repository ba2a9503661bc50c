"""BrokerConfig validation and broker.toml loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttsec.errors import ConfigError
from mqttsec.reference_broker.config import BrokerConfig, load_config


def test_defaults() -> None:
    config = BrokerConfig()
    assert config.host == "127.0.0.1" and config.port == 1883
    assert config.keep_alive_factor == 1.5
    assert config.replace(port=0).port == 0


def test_load(tmp_path: Path) -> None:
    path = tmp_path / "broker.toml"
    path.write_text('port = 0\nmax_qos = 1\nconnect_timeout = 2\nlog_level = "debug"\n')
    config = load_config(path)
    assert config.port == 0 and config.max_qos == 1
    assert config.connect_timeout == 2.0 and config.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("prot = 1\n", ["unknown key 'prot'", "port"]),
        ("port = 70000\n", ["'port'", "0 to 65535"]),
        ('port = "x"\n', ["'port'", "whole number"]),
        ("retain_available = 1\n", ["'retain_available'", "true or false"]),
        ("max_qos = 3\n", ["'max_qos'", "0 to 2"]),
        ('log_level = "LOUD"\n', ["'log_level'", "INFO"]),
        ("port = \n", ["not valid TOML"]),
    ],
)
def test_bad_values_name_file_key_and_fix(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "broker.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ConfigError, match="receive_maximum"):
        BrokerConfig(receive_maximum=0)
