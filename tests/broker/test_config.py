"""BrokerConfig validation and broker.toml loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from mqttsec.errors import ConfigError
from mqttsec.reference_broker.background import BackgroundBroker, BrokerThreadError
from mqttsec.reference_broker.config import BrokerConfig, ListenerConfig, load_config
from mqttsec.reference_broker.security.plugins import PluginSpec
from mqttsec.reference_broker.security.tls import TlsSettings


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


# --- listeners, TLS and security settings (issue 4) ---------------------------------------


@pytest.fixture(scope="module")
def server_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A server certificate, its key, and a key of another certificate (mismatch)."""
    d = tmp_path_factory.mktemp("cfg-pki")
    ca = trustme.CA()
    leaf, other = ca.issue_cert("localhost"), ca.issue_cert("other")
    leaf.cert_chain_pems[0].write_to_path(str(d / "server.crt"))
    leaf.private_key_pem.write_to_path(str(d / "server.key"))
    other.private_key_pem.write_to_path(str(d / "other.key"))
    return d / "server.crt", d / "server.key", d / "other.key"


def test_security_defaults() -> None:
    config = BrokerConfig()
    assert config.allow_anonymous is False  # as mosquitto 2: no anonymous clients by default
    assert (config.password_file, config.acl_file, config.plugins) == (None, None, ())
    assert config.effective_listeners() == (ListenerConfig("default", "127.0.0.1", 1883),)


def test_load_listeners_plugins_and_security_keys(tmp_path: Path) -> None:
    path = tmp_path / "broker.toml"
    path.write_text(
        'allow_anonymous = true\npassword_file = "pw"\nacl_file = "/etc/acl"\n'
        "login_throttle_attempts = 5\nlogin_throttle_window = 30\n"
        "disconnect_on_denied_publish = true\n"
        '[[listeners]]\nname = "plain"\nport = 0\n'
        '[[listeners]]\nname = "mtls"\nhost = "::1"\nport = 8883\n'
        'certfile = "s.crt"\nkeyfile = "s.key"\ncafile = "ca.pem"\ncrlfile = "crl.pem"\n'
        'require_certificate = true\nuse_identity_as_username = true\ntls_version = "tlsv1.3"\n'
        'ciphers = "ECDHE+AESGCM"\nsni."alt.example" = { certfile = "a.crt", keyfile = "a.key" }\n'
        '[[plugins]]\npath = "pkg.mod:Plugin"\nname = "p"\noptions = { level = 2 }\n'
    )
    config = load_config(path)
    assert config.allow_anonymous and config.disconnect_on_denied_publish
    assert config.password_file == str(tmp_path / "pw")  # relative to broker.toml
    assert config.acl_file == "/etc/acl"
    assert (config.login_throttle_attempts, config.login_throttle_window) == (5, 30.0)
    plain, mtls = config.listeners
    assert plain == ListenerConfig("plain", "127.0.0.1", 0)
    assert (mtls.name, mtls.host, mtls.port, mtls.scheme) == ("mtls", "::1", 8883, "mqtts")
    tls = mtls.tls
    assert tls is not None
    assert tls.certfile == str(tmp_path / "s.crt") and tls.crlfile == str(tmp_path / "crl.pem")
    assert tls.require_certificate and tls.use_identity_as_username
    assert (tls.tls_version, tls.ciphers) == ("tlsv1.3", "ECDHE+AESGCM")
    assert tls.sni["alt.example"] == (str(tmp_path / "a.crt"), str(tmp_path / "a.key"))
    assert config.plugins == (PluginSpec("pkg.mod:Plugin", {"level": 2}, "p"),)
    assert config.effective_listeners() == config.listeners


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # TLS options exist only in a listener: no TLS file can configure a hidden listener
        # (mosquitto #2283 class).
        ('certfile = "s.crt"\n', ["unknown key 'certfile'"]),
        ("listeners = 1\n", ["array of tables", "[[listeners]]"]),
        ('[[listeners]]\nname = "a"\n', ["#1", "no port", "port = 8883"]),
        ("[[listeners]]\nport = 1\nprot = 2\n", ["#1", "unknown key 'prot'", "certfile"]),
        ('[[listeners]]\nport = "x"\n', ["port = 'x'", "whole number"]),
        ("[[listeners]]\nport = 70000\n", ["port 70000", "0 to 65535"]),
        (
            '[[listeners]]\nport = 1\ncafile = "ca.pem"\n',
            ["cafile", "without certfile and keyfile"],
        ),
        ("[[listeners]]\nport = 1\nrequire_certificate = 1\n", ["without certfile"]),
        (
            '[[listeners]]\nport = 1\ncertfile = "c"\nkeyfile = "k"\nrequire_certificate = true\n',
            ["needs a cafile"],
        ),
        (
            '[[listeners]]\nport = 1\ncertfile = "c"\nkeyfile = "k"\ntls_version = "tlsv1"\n',
            ["tls_version", "tlsv1.2 or tlsv1.3"],
        ),
        (
            '[[listeners]]\nname = "a"\nport = 1\n[[listeners]]\nname = "a"\nport = 2\n',
            ["own name"],
        ),
        ("[[listeners]]\nport = 1883\n[[listeners]]\nport = 1883\n", ["own port"]),
        ("port = 1884\n[[listeners]]\nport = 1883\n", ["host/port", "[[listeners]]"]),
        ("[[plugins]]\nname = 'x'\n", ["[[plugins]] #1", "no path"]),
        ('[[plugins]]\npath = "a:b"\nopts = 1\n', ["unknown key 'opts'", "options"]),
        ('[[plugins]]\npath = "a:b"\noptions = 1\n', ["options = 1", "table"]),
        ("allow_anonymous = 1\n", ["'allow_anonymous'", "true or false"]),
        ("password_file = 3\n", ["'password_file'", "file path"]),
        ('acl_file = ""\n', ["'acl_file'", "file path"]),
        ("login_throttle_window = 0\n", ["'login_throttle_window'"]),
    ],
)
def test_bad_listener_and_security_settings(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "broker.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    for word in words:
        assert word in message, message


def _start_error(config: BrokerConfig) -> str:
    """The ConfigError text that stopped a broker from starting (nothing may be bound)."""
    broker = BackgroundBroker(config)
    with pytest.raises(BrokerThreadError) as info:
        broker.start()
    assert isinstance(info.value.__cause__, ConfigError), info.value.__cause__
    assert broker.broker is not None and broker.broker.core is None
    return str(info.value.__cause__)


def test_broken_tls_files_stop_start_up(
    server_pair: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cert, key, other_key = server_pair

    def listener(**kw: str) -> BrokerConfig:
        settings = {"certfile": str(cert), "keyfile": str(key), **kw}
        tls = TlsSettings(**settings)  # type: ignore[arg-type]
        return BrokerConfig(listeners=(ListenerConfig("secure", port=0, tls=tls),))

    missing = _start_error(listener(certfile=str(tmp_path / "nope.crt")))
    assert "'secure'" in missing and "nope.crt" in missing and "certfile" in missing
    mismatch = _start_error(listener(keyfile=str(other_key)))
    assert str(other_key) in mismatch and "does not match" in mismatch
    assert "use the key the certificate was issued for" in mismatch
    no_ca = _start_error(listener(cafile=str(tmp_path / "ca.pem")))
    assert "ca.pem" in no_ca and "cafile" in no_ca


def test_broken_security_files_stop_start_up(tmp_path: Path) -> None:
    missing = _start_error(BrokerConfig(port=0, password_file=str(tmp_path / "pw")))
    assert str(tmp_path / "pw") in missing
    bad_pw = tmp_path / "bad-pw"
    bad_pw.write_text("alice\n")
    text = _start_error(BrokerConfig(port=0, password_file=str(bad_pw)))
    assert f"{bad_pw}:1" in text and "Fix:" in text
    bad_acl = tmp_path / "acl"
    bad_acl.write_text("user alice\ntopic sideways a/b\n")
    text = _start_error(BrokerConfig(port=0, acl_file=str(bad_acl)))
    assert f"{bad_acl}:2" in text and "Fix:" in text
    plugin = PluginSpec("no_such_module_xyz:Plugin")
    text = _start_error(BrokerConfig(port=0, plugins=(plugin,)))
    assert "no_such_module_xyz" in text
    text = _start_error(BrokerConfig(port=0, plugins=(PluginSpec("json:no_factory"),)))
    assert "no_factory" in text
