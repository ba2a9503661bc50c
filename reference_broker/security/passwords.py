"""Mosquitto-compatible password files: one ``username:hash`` line per user.

Hash formats are exactly mosquitto 2's (``src/security_default.c``, ``mosquitto_passwd``):

- ``$7$<iterations>$<salt b64>$<hash b64>``: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte
  derived key, 101 iterations by default (mosquitto 2's default and only written format).
- ``$6$<salt b64>$<hash b64>``: legacy SHA-512 over ``password || salt`` (mosquitto <= 1.6),
  still read by mosquitto 2, so still read here.

Guarantees (where we are stricter than mosquitto, each is on purpose):

- A malformed, blank-password or plain-text line refuses the whole file with
  :class:`PasswordFileError` naming file, line and fix. Mosquitto 2 logs and drops such a line;
  1.4/1.5 turned it into a user without a password (CVE-2018-12551). Nothing is ever loaded
  as "no password".
- Duplicate usernames are refused (mosquitto keeps both and picks one by hash order).
- :meth:`PasswordFile.verify` compares in constant time and does the same PBKDF2 work for an
  unknown user, so response time does not reveal which usernames exist. An empty password, or
  one containing U+0000, never verifies: mosquitto hashes the password as a C string, so it
  would accept ``secret\\0anything`` for ``secret``; we refuse it.
- A group- or world-readable file loads with a :class:`SecurityConfigWarning` (mosquitto
  2.0.11 says nothing, later 2.0.x warn; refusing would break files ``mosquitto_passwd`` 2.0.11
  writes with mode 0644). ``strict_permissions=True`` refuses instead. :meth:`save` always
  writes mode 0600, atomically.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .errors import PasswordFileError, SecurityConfigWarning

__all__ = [
    "DEFAULT_ITERATIONS",
    "HASH_BYTES",
    "SALT_BYTES",
    "HashScheme",
    "PasswordFile",
    "PasswordHash",
    "hash_password",
    "validate_username",
]

DEFAULT_ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64
MAX_ITERATIONS = 2**31 - 1  # mosquitto stores the count in a C int
MAX_FIELD_BYTES = 65535  # mosquitto's limit on usernames and passwords

_REHASH_FIX = "re-create the entry with `mqttsec passwd <file> <username>` (or mosquitto_passwd)"


class HashScheme(Enum):
    """The hash formats mosquitto 2 reads; the value is the ``$n$`` tag."""

    SHA512 = "6"
    PBKDF2_SHA512 = "7"


def _b64decode(text: str, want: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"the {what} is not valid base64") from None
    if len(raw) != want:
        raise ValueError(f"the {what} is {len(raw)} bytes, mosquitto requires {want}")
    return raw


def _as_password_bytes(password: bytes | str) -> bytes:
    return password.encode("utf-8") if isinstance(password, str) else bytes(password)


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """One stored hash; immutable, comparable, printable without the secret parts."""

    scheme: HashScheme
    salt: bytes
    digest: bytes
    iterations: int = DEFAULT_ITERATIONS

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """Parse the part after ``username:``.

        Raises:
            ValueError: the text is not a complete ``$6$`` or ``$7$`` hash; the message says
                what is wrong without repeating the text.
        """
        if not text:
            raise ValueError("the password hash is empty")
        if not text.startswith("$"):
            raise ValueError("the password is not hashed (plain text?)")
        fields = text.split("$")[1:]
        if fields[0] == HashScheme.PBKDF2_SHA512.value:
            if len(fields) != 4:
                raise ValueError("a $7$ hash needs 4 fields: $7$iterations$salt$hash")
            _, iterations_text, salt_text, digest_text = fields
            if not iterations_text.isascii() or not iterations_text.isdigit():
                raise ValueError("the iteration count is not a positive integer")
            iterations = int(iterations_text)
            if not 1 <= iterations <= MAX_ITERATIONS:
                raise ValueError(f"the iteration count must be 1..{MAX_ITERATIONS}")
            return cls(
                HashScheme.PBKDF2_SHA512,
                _b64decode(salt_text, SALT_BYTES, "salt"),
                _b64decode(digest_text, HASH_BYTES, "hash"),
                iterations,
            )
        if fields[0] == HashScheme.SHA512.value:
            if len(fields) != 3:
                raise ValueError("a $6$ hash needs 3 fields: $6$salt$hash")
            return cls(
                HashScheme.SHA512,
                _b64decode(fields[1], SALT_BYTES, "salt"),
                _b64decode(fields[2], HASH_BYTES, "hash"),
                0,
            )
        raise ValueError("unknown hash type (mosquitto 2 knows $6$ and $7$)")

    @classmethod
    def create(
        cls,
        password: bytes | str,
        *,
        iterations: int = DEFAULT_ITERATIONS,
        salt: bytes | None = None,
        scheme: HashScheme = HashScheme.PBKDF2_SHA512,
    ) -> PasswordHash:
        """Hash a new password (random 12-byte salt unless one is given, for tests).

        Raises:
            ValueError: empty password, a password containing NUL (mosquitto would truncate
                it), one over 65535 bytes, a bad salt length or iteration count.
        """
        raw = _as_password_bytes(password)
        if not raw:
            raise ValueError(
                "empty passwords are refused (anyone knowing the username could log in)"
            )
        if b"\x00" in raw:
            raise ValueError("a password must not contain NUL (mosquitto truncates at NUL)")
        if len(raw) > MAX_FIELD_BYTES:
            raise ValueError(f"a password must be at most {MAX_FIELD_BYTES} bytes")
        salt = secrets.token_bytes(SALT_BYTES) if salt is None else bytes(salt)
        if len(salt) != SALT_BYTES:
            raise ValueError(f"the salt must be {SALT_BYTES} bytes")
        if scheme is HashScheme.SHA512:
            return cls(scheme, salt, _digest(scheme, raw, salt, 0), 0)
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ValueError(f"iterations must be 1..{MAX_ITERATIONS}")
        return cls(scheme, salt, _digest(scheme, raw, salt, iterations), iterations)

    def encode(self) -> str:
        """The text mosquitto stores after ``username:``."""
        salt = base64.b64encode(self.salt).decode("ascii")
        digest = base64.b64encode(self.digest).decode("ascii")
        if self.scheme is HashScheme.SHA512:
            return f"$6${salt}${digest}"
        return f"$7${self.iterations}${salt}${digest}"

    def matches(self, password: bytes) -> bool:
        """Constant-time check of *password* against this hash (empty or NUL never match)."""
        candidate = _digest(self.scheme, password, self.salt, self.iterations)
        same = hmac.compare_digest(candidate, self.digest)
        return same and bool(password) and b"\x00" not in password

    def __repr__(self) -> str:  # never print salt or digest
        return f"PasswordHash(scheme={self.scheme.name}, iterations={self.iterations})"


def _digest(scheme: HashScheme, password: bytes, salt: bytes, iterations: int) -> bytes:
    if scheme is HashScheme.SHA512:
        return hashlib.sha512(password + salt).digest()
    return hashlib.pbkdf2_hmac("sha512", password, salt, iterations, HASH_BYTES)


def hash_password(
    password: bytes | str, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """Return the ``$7$...`` text for *password*, exactly as ``mosquitto_passwd`` writes it."""
    return PasswordHash.create(password, iterations=iterations, salt=salt).encode()


def validate_username(username: str) -> None:
    """Refuse a username mosquitto_passwd refuses, or that would corrupt the file.

    Raises:
        ValueError: empty, longer than 65535 bytes, contains ``:`` or a control character,
            or has leading/trailing whitespace (mosquitto trims it when loading).
    """
    if not username:
        raise ValueError("the username is empty")
    if len(username.encode("utf-8", "surrogatepass")) > MAX_FIELD_BYTES:
        raise ValueError(f"the username must be at most {MAX_FIELD_BYTES} bytes")
    if ":" in username:
        raise ValueError("the username must not contain ':'")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in username):
        raise ValueError("the username must not contain control characters")
    if username != username.strip():
        raise ValueError("the username must not start or end with whitespace")


class PasswordFile:
    """The users of a password file, in file order, with comment lines kept in place.

    Not thread-safe for mutation; the broker loads a new instance on reload and swaps it in.
    """

    def __init__(self) -> None:
        self._users: dict[str, PasswordHash] = {}
        # The file's layout: a username (str) for a user line, or a comment line kept verbatim.
        self._layout: list[tuple[bool, str]] = []  # (is_user, username-or-comment)
        self._dummy = PasswordHash.create(b"\x01unknown-user", salt=bytes(SALT_BYTES))

    # ------------------------------------------------------------------ loading and saving

    @classmethod
    def parse(cls, text: str, source: str = "<string>") -> PasswordFile:
        """Parse file contents; *source* names the file in errors.

        Raises:
            PasswordFileError: a line is malformed, has no or a plain-text password, or repeats
                a username.
        """
        pwfile = cls()
        for lineno, raw_line in enumerate(text.splitlines(), start=1):
            line = raw_line.rstrip("\r\n")
            if line.startswith("#"):
                pwfile._layout.append((False, line))
                continue
            if not line.strip():
                continue
            username, sep, hash_text = line.partition(":")
            username, hash_text = username.strip(), hash_text.strip()
            if not sep:
                raise PasswordFileError(
                    source,
                    lineno,
                    "the line has no ':' between username and password hash",
                    f"write `username:hash`, or {_REHASH_FIX}",
                )
            if not username:
                raise PasswordFileError(
                    source, lineno, "the username is empty", "delete the line or add a username"
                )
            if ":" in hash_text:
                raise PasswordFileError(
                    source,
                    lineno,
                    f"user {username!r}: more than one ':' on the line",
                    "usernames and hashes cannot contain ':'; " + _REHASH_FIX,
                )
            if username in pwfile._users:
                raise PasswordFileError(
                    source,
                    lineno,
                    f"user {username!r} appears twice",
                    "delete one of the two lines",
                )
            try:
                parsed = PasswordHash.parse(hash_text)
            except ValueError as exc:
                fix = (
                    f"hash the file with `mqttsec passwd -U {source}`"
                    if hash_text and not hash_text.startswith("$")
                    else _REHASH_FIX
                )
                raise PasswordFileError(source, lineno, f"user {username!r}: {exc}", fix) from None
            pwfile._users[username] = parsed
            pwfile._layout.append((True, username))
        pwfile._refresh_dummy()
        return pwfile

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, strict_permissions: bool = False
    ) -> PasswordFile:
        """Read and parse a password file.

        Raises:
            PasswordFileError: unreadable, not UTF-8, malformed, or (with
                *strict_permissions*) readable by group or others.

        Warns:
            SecurityConfigWarning: the file is readable by group or others.
        """
        name = os.fspath(path)
        try:
            with open(name, "rb") as handle:
                mode = os.fstat(handle.fileno()).st_mode
                data = handle.read()
        except OSError as exc:
            raise PasswordFileError(
                name,
                None,
                f"cannot read the password file ({exc.strerror})",
                "check the path and that the broker's user may read it",
            ) from None
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            problem = f"the password file is readable by others (mode {stat.S_IMODE(mode):04o})"
            fix = f"chmod 0600 {name}"
            if strict_permissions:
                raise PasswordFileError(name, None, problem, fix)
            warnings.warn(f"{name}: {problem}. Fix: {fix}", SecurityConfigWarning, stacklevel=2)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            lineno = data[: exc.start].count(b"\n") + 1
            raise PasswordFileError(
                name,
                lineno,
                "the line is not valid UTF-8",
                "usernames must be UTF-8 (MQTT strings)",
            ) from None
        return cls.parse(text, source=name)

    def dumps(self) -> str:
        """The file contents, in the original order, comments kept."""
        lines = []
        for is_user, value in self._layout:
            lines.append(f"{value}:{self._users[value].encode()}" if is_user else value)
        return "".join(line + "\n" for line in lines)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the file atomically with mode 0600 (a crash leaves the old file intact)."""
        target = Path(os.fspath(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
        try:
            os.fchmod(fd, 0o600)
            try:  # keep the owner, so a broker running as another user can still read it
                old = target.stat()
                os.fchown(fd, old.st_uid, old.st_gid)
            except OSError:
                pass
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(self.dumps())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ queries

    def verify(self, username: str, password: bytes) -> bool:
        """Whether *password* is the user's; same work and constant-time compare either way."""
        stored = self._users.get(username)
        if stored is None:
            self._dummy.matches(password)
            return False
        return stored.matches(password)

    def __contains__(self, username: object) -> bool:
        return username in self._users

    def __len__(self) -> int:
        return len(self._users)

    @property
    def usernames(self) -> tuple[str, ...]:
        """The users, in file order."""
        return tuple(self._users)

    def hash_of(self, username: str) -> PasswordHash:
        """The stored hash (KeyError for an unknown user)."""
        return self._users[username]

    # ------------------------------------------------------------------ changes

    def set_password(
        self,
        username: str,
        password: bytes | str,
        *,
        iterations: int = DEFAULT_ITERATIONS,
        scheme: HashScheme = HashScheme.PBKDF2_SHA512,
    ) -> None:
        """Add the user, or replace their password in place (keeps the line's position).

        Raises:
            ValueError: invalid username or password (see :func:`validate_username`,
                :meth:`PasswordHash.create`).
        """
        validate_username(username)
        self.set_hash(username, PasswordHash.create(password, iterations=iterations, scheme=scheme))

    def set_hash(self, username: str, password_hash: PasswordHash) -> None:
        """Add or replace a user with an already computed hash."""
        validate_username(username)
        if username not in self._users:
            self._layout.append((True, username))
        self._users[username] = password_hash
        self._refresh_dummy()

    def add(
        self, username: str, password: bytes | str, *, iterations: int = DEFAULT_ITERATIONS
    ) -> None:
        """Add a new user.

        Raises:
            ValueError: the user exists already, or the username/password is invalid.
        """
        if username in self._users:
            raise ValueError(f"user {username!r} exists already")
        self.set_password(username, password, iterations=iterations)

    def delete(self, username: str) -> None:
        """Remove a user.

        Raises:
            KeyError: no such user.
        """
        del self._users[username]
        self._layout.remove((True, username))
        self._refresh_dummy()

    def _refresh_dummy(self) -> None:
        """Make an unknown user cost what most known users cost (their usual iteration count)."""
        counts = Counter(
            h.iterations for h in self._users.values() if h.scheme is HashScheme.PBKDF2_SHA512
        )
        iterations = counts.most_common(1)[0][0] if counts else DEFAULT_ITERATIONS
        if iterations != self._dummy.iterations:
            self._dummy = PasswordHash.create(
                b"\x01unknown-user", salt=bytes(SALT_BYTES), iterations=iterations
            )
