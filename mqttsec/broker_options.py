"""The flags of ``mqttsec broker``, named like mosquitto's options, and how they map onto
:class:`~mqttsec.reference_broker.config.BrokerConfig`.

Options win over the config file. TLS options only ever configure the ``--tls-port``
listener: they never apply to a plain socket (the class of mosquitto #2283, where TLS
settings without a listener opened an anonymous remote listener).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqttsec.reference_broker.config import BrokerConfig

__all__ = ["add_security_options", "apply_options", "port_number"]


def port_number(text: str) -> int:
    """argparse type for a TCP port number (0 = any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def _bool(text: str) -> bool:
    """argparse type for mosquitto-style ``true``/``false`` values."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use true or false")


def _path(text: str) -> str:
    """argparse type for a file path: made absolute, so --print-config output loads anywhere."""
    return str(Path(text).absolute())


#: TLS flags: they configure the --tls-port listener and mean nothing without it.
_TLS_FLAGS = (
    "cafile",
    "certfile",
    "keyfile",
    "require_certificate",
    "use_identity_as_username",
    "use_subject_as_username",
    "crlfile",
    "tls_version",
    "ciphers",
)


def add_security_options(broker: argparse.ArgumentParser) -> None:
    """The security flags of ``mqttsec broker``, named like mosquitto's options."""
    auth = broker.add_argument_group("authentication and authorization")
    auth.add_argument(
        "--allow-anonymous",
        type=_bool,
        metavar="true|false",
        help="accept clients without a username (default false)",
    )
    auth.add_argument("--password-file", type=_path, help="mosquitto-format password file")
    auth.add_argument("--acl-file", type=_path, help="mosquitto-format ACL file")
    tls = broker.add_argument_group(
        "TLS listener",
        "--tls-port opens a TLS listener on --host; the TLS options below apply to it and are "
        "refused without it. With --tls-port, the plain listener opens only if --port is given.",
    )
    tls.add_argument("--tls-port", type=port_number, help="port of the TLS listener (0: any)")
    tls.add_argument("--certfile", type=_path, help="server certificate chain (PEM)")
    tls.add_argument("--keyfile", type=_path, help="server private key (PEM, unencrypted)")
    tls.add_argument("--cafile", type=_path, help="CA that signs client certificates (PEM)")
    tls.add_argument(
        "--require-certificate",
        action="store_true",
        default=None,
        help="mTLS: refuse clients without a valid certificate",
    )
    tls.add_argument(
        "--use-identity-as-username",
        action="store_true",
        default=None,
        help="the client certificate CN is the username",
    )
    tls.add_argument(
        "--use-subject-as-username",
        action="store_true",
        default=None,
        help="the client certificate subject is the username",
    )
    tls.add_argument("--crlfile", type=_path, help="CRL of the client CA (PEM)")
    tls.add_argument(
        "--tls-version", choices=("tlsv1.2", "tlsv1.3"), help="minimum TLS version (tlsv1.2)"
    )
    tls.add_argument("--ciphers", help="OpenSSL cipher list for TLS 1.2")


def apply_options(config: BrokerConfig, args: argparse.Namespace) -> BrokerConfig:
    """*config* with the command-line options applied (options win over the file).

    Raises:
        ConfigError: TLS options without --tls-port, or --host/--port together with a
            config file that defines [[listeners]].
    """
    from mqttsec.errors import ConfigError
    from mqttsec.reference_broker.config import ListenerConfig
    from mqttsec.reference_broker.security.tls import TlsSettings

    overrides = {
        key: getattr(args, key)
        for key in ("host", "port", "log_level", "allow_anonymous", "password_file", "acl_file")
        if getattr(args, key) is not None
    }
    tls_options = {key: getattr(args, key) for key in _TLS_FLAGS if getattr(args, key) is not None}
    if tls_options and args.tls_port is None:
        flags = ", ".join("--" + key.replace("_", "-") for key in tls_options)
        raise ConfigError(
            f"{flags} given without --tls-port; add --tls-port 8883 to open a TLS listener "
            "(TLS options never apply to the plain listener)"
        )
    if config.listeners and ({"host", "port"} & overrides.keys()):
        raise ConfigError(
            "--host/--port cannot change a config file with [[listeners]]; edit the listeners "
            "there (--tls-port adds one)"
        )
    config = dataclasses.replace(config, **overrides)
    if args.tls_port is None:
        return config
    if "certfile" not in tls_options or "keyfile" not in tls_options:
        raise ConfigError("--tls-port needs --certfile and --keyfile (the server certificate)")
    try:
        tls = TlsSettings(**tls_options)
    except ConfigError as exc:
        raise ConfigError(f"TLS options: {exc}") from None
    listeners = list(config.listeners)
    if not listeners and args.port is not None:
        listeners.append(ListenerConfig("default", config.host, config.port))
    listeners.append(ListenerConfig("tls", config.host, args.tls_port, tls))
    return dataclasses.replace(config, listeners=tuple(listeners))
