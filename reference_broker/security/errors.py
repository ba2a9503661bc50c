"""Errors and warnings raised while loading security files (password file, ACL file).

Every error names the file, the line and the fix, and never quotes a secret (a password hash
or a password) from the file: error messages end up in logs.
"""

from __future__ import annotations

from mqttsec.errors import ConfigError

__all__ = ["AclFileError", "PasswordFileError", "SecurityConfigWarning", "SecurityFileError"]


class SecurityFileError(ConfigError):
    """A security file is malformed; start-up must stop rather than run half-secured.

    Attributes:
        path: the file, as given to the loader (or ``<string>`` for parsed text).
        line: 1-based line number, or None when the problem is the whole file.
        problem: what is wrong, without secrets.
        fix: what the operator should do.
    """

    def __init__(self, path: str, line: int | None, problem: str, fix: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}. Fix: {fix}")
        self.path = path
        self.line = line
        self.problem = problem
        self.fix = fix


class PasswordFileError(SecurityFileError):
    """A password file line is malformed (it is never loaded as a user without a password)."""


class AclFileError(SecurityFileError):
    """An ACL file line is malformed (the file is refused as a whole, never half-applied)."""


class SecurityConfigWarning(UserWarning):
    """A security file loads, but something in it is risky (e.g. world-readable hashes)."""
