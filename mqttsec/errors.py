"""The root of every exception mqttsec raises on purpose.

Catching :class:`MQTTSecError` catches every error the tool reports to a user; anything else
escaping is a bug in mqttsec itself.
"""

__all__ = ["ConfigError", "MQTTSecError", "ProfileError", "TargetError", "TargetUnreachable"]


class MQTTSecError(Exception):
    """Base class of all mqttsec errors."""


class ConfigError(MQTTSecError):
    """A configuration file or option is wrong; the message names the file, key and the fix."""


class ProfileError(ConfigError):
    """A security profile (TOML) is wrong: the message names the file, line, key and what is
    expected.

    Attributes:
        source: the profile file (or ``<string>``).
        line: 1-based line of the offending key, or None when it cannot be placed.
        key: dotted path of the key, e.g. ``listeners[1].kind``; None for a syntax error.
        problem: what is wrong (never quoting a password).
        expected: what would be accepted instead.
    """

    def __init__(
        self, source: str, line: int | None, key: str | None, problem: str, expected: str
    ) -> None:
        where = source if line is None else f"{source}:{line}"
        what = problem if key is None else f"{key}: {problem}"
        super().__init__(f"{where}: {what}; expected {expected}")
        self.source = source
        self.line = line
        self.key = key
        self.problem = problem
        self.expected = expected


class TargetUnreachable(MQTTSecError):
    """The broker under test cannot be reached; the message names the address and the fix."""


class TargetError(MQTTSecError):
    """A broker target cannot be found, configured, started or stopped.

    The message names the target and what went wrong and, for a broker that failed to start,
    ends with the broker's own log so the cause is visible without hunting for files.

    Attributes:
        target: the target's name (``"local:mosquitto"``), or ``""`` when no target is known.
        log: the broker's log text at the time of failure (may be empty).
    """

    def __init__(self, message: str, *, target: str = "", log: str = "") -> None:
        full = f"{target}: {message}" if target else message
        if log.strip():
            full += "\n--- broker log ---\n" + log.rstrip() + "\n--- end of broker log ---"
        super().__init__(full)
        self.target = target
        self.log = log
