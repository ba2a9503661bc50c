"""The root of every exception mqttsec raises on purpose.

Catching :class:`MQTTSecError` catches every error the tool reports to a user; anything else
escaping is a bug in mqttsec itself.
"""

__all__ = ["ConfigError", "MQTTSecError", "TargetUnreachable"]


class MQTTSecError(Exception):
    """Base class of all mqttsec errors."""


class ConfigError(MQTTSecError):
    """A configuration file or option is wrong; the message names the file, key and the fix."""


class TargetUnreachable(MQTTSecError):
    """The broker under test cannot be reached; the message names the address and the fix."""
