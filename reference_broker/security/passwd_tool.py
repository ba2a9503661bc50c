"""``mqttsec passwd``: manage password files with mosquitto_passwd's command-line interface.

Same options and arguments as mosquitto_passwd 2.0 (``-c``, ``-b``, ``-D``, ``-U``, ``-H``, and
the ``-I iterations`` it accepts without listing it in ``--help``), same exit codes (0 done,
1 refused), files mosquitto reads. Deliberate differences, all safer:

- Empty passwords and passwords containing NUL are refused (mosquitto_passwd stores an empty
  one; mosquitto would truncate at NUL).
- ``-U`` leaves lines that are already hashed alone instead of hashing the hash again.
- The file is replaced atomically with mode 0600, keeping its owner and group when allowed
  (mosquitto_passwd rewrites in place and keeps the mode, often 0644).
- A malformed file is refused with the file, line and fix instead of "Corrupt password file".
"""

from __future__ import annotations

import getpass as _getpass
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TextIO

from .errors import PasswordFileError, SecurityConfigWarning
from .passwords import (
    DEFAULT_ITERATIONS,
    HashScheme,
    PasswordFile,
    PasswordHash,
    validate_username,
)

__all__ = ["USAGE", "main"]

USAGE = """\
mqttsec passwd manages password files for the reference broker and mosquitto.

Usage: mqttsec passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] passwordfile username
       mqttsec passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b passwordfile username password
       mqttsec passwd -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.
      sha512 writes mosquitto 1.6's weak format; use it only for such old brokers.
 -I : PBKDF2 iterations (default 101, as mosquitto).
 -U : update a plain text password file to use hashed passwords.
"""


class _Refused(Exception):
    """A user error: the message is printed as ``Error: ...`` and the exit code is 1."""


class _Options:
    def __init__(self) -> None:
        self.batch = False
        self.create = False
        self.delete = False
        self.update = False
        self.scheme = HashScheme.PBKDF2_SHA512
        self.iterations = DEFAULT_ITERATIONS
        self.positional: list[str] = []


def _parse(argv: Sequence[str]) -> _Options:
    """Flags first, then positionals, as mosquitto_passwd parses them."""
    opts = _Options()
    idx = 0
    while idx < len(argv):
        arg = argv[idx]
        if arg in ("-H", "-I"):
            if idx + 1 == len(argv):
                raise _Refused(f"{arg} argument given but not enough other arguments.")
            value = argv[idx + 1]
            idx += 2
            if arg == "-H":
                schemes = {"sha512": HashScheme.SHA512, "sha512-pbkdf2": HashScheme.PBKDF2_SHA512}
                if value not in schemes:
                    raise _Refused(f"Unknown hash type '{value}'")
                opts.scheme = schemes[value]
            else:
                if not value.isascii() or not value.isdigit() or int(value) < 1:
                    raise _Refused("Number of iterations must be > 0.")
                opts.iterations = int(value)
            continue
        flags = {"-b": "batch", "-c": "create", "-D": "delete", "-U": "update"}
        if arg not in flags:
            break
        setattr(opts, flags[arg], True)
        idx += 1
    opts.positional = list(argv[idx:])
    for a, b, first, second in (
        (opts.create, opts.delete, "-c", "-D"),
        (opts.create, opts.update, "-c", "-U"),
        (opts.delete, opts.update, "-D", "-U"),
        (opts.delete, opts.batch, "-b", "-D"),
    ):
        if a and b:
            raise _Refused(f"{first} and {second} cannot be used together.")
    want = 1 if opts.update else 3 if opts.batch else 2
    if len(opts.positional) != want:
        raise _Refused("wrong number of arguments.\n\n" + USAGE)
    return opts


def _username(raw: str) -> str:
    try:
        os.fsencode(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("Username must be valid UTF-8.") from None
    try:
        validate_username(raw)
    except ValueError as exc:
        raise _Refused(f"Invalid username: {exc}.") from None
    return raw


def _ask_password(prompt: Callable[[str], str]) -> bytes:
    first = prompt("Password: ")
    second = prompt("Reenter password: ")
    if first != second:
        raise _Refused("Passwords do not match.")
    return os.fsencode(first)


def _load(path: str, err: TextIO) -> PasswordFile:
    if not os.path.exists(path):
        raise _Refused(f"Unable to open password file {path}. No such file or directory.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SecurityConfigWarning)
        try:
            pwfile = PasswordFile.load(path)
        except PasswordFileError as exc:
            raise _Refused(str(exc)) from None
    err.writelines(
        f"Warning: {warning.message} (the rewritten file will be 0600)\n" for warning in caught
    )
    return pwfile


def _upgrade(path: str, err: TextIO, iterations: int, scheme: HashScheme) -> PasswordFile:
    """Hash every plain-text password of *path*; keep comments and already hashed lines."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _Refused(f"Unable to read password file {path}: {exc}.") from None
    out: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        if line.startswith("#") or not line.strip():
            out.append(line)
            continue
        user, sep, secret = line.partition(":")
        user, secret = user.strip(), secret.strip()
        if not sep or not user or not secret:
            raise _Refused(f"Corrupt password file at line {lineno} (need username:password).")
        try:
            PasswordHash.parse(secret)
        except ValueError:
            try:
                hashed = PasswordHash.create(secret, iterations=iterations, scheme=scheme)
            except ValueError as exc:
                raise _Refused(f"line {lineno}, user {user!r}: {exc}.") from None
            out.append(f"{user}:{hashed.encode()}")
        else:
            err.write(f"Warning: user {user} on line {lineno} is already hashed; kept as is.\n")
            out.append(line)
    try:
        return PasswordFile.parse("\n".join(out) + "\n", source=path)
    except PasswordFileError as exc:
        raise _Refused(str(exc)) from None


def _run(opts: _Options, prompt: Callable[[str], str], err: TextIO) -> None:
    path = os.path.realpath(opts.positional[0])  # write through a symlink, as mosquitto does
    if opts.scheme is HashScheme.SHA512:
        err.write("Warning: -H sha512 writes the weak legacy $6$ format (one SHA-512 round).\n")
    if opts.update:
        _upgrade(path, err, opts.iterations, opts.scheme).save(path)
        return
    username = _username(opts.positional[1])
    pwfile = PasswordFile() if opts.create else _load(path, err)
    if opts.delete:
        if username not in pwfile:
            raise _Refused(f"User {username} not found in password file.")
        pwfile.delete(username)
    else:
        password = os.fsencode(opts.positional[2]) if opts.batch else _ask_password(prompt)
        try:
            pwfile.set_password(username, password, iterations=opts.iterations, scheme=opts.scheme)
        except ValueError as exc:
            raise _Refused(f"{exc}.") from None
    pwfile.save(path)


def main(
    argv: Sequence[str] | None = None,
    *,
    prompt: Callable[[str], str] = _getpass.getpass,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the tool; returns the process exit code (0 done, 1 refused or failed).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).
        prompt: reads a password without echo (``getpass.getpass``; replaceable in tests).
        stdout: where usage goes (default ``sys.stdout``).
        stderr: where errors and warnings go (default ``sys.stderr``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    if not args or args[0] in ("-h", "--help"):
        out.write(USAGE)
        return 0 if args else 1
    try:
        _run(_parse(args), prompt, err)
    except _Refused as exc:
        err.write(f"Error: {exc}\n")
        return 1
    except (EOFError, KeyboardInterrupt):
        err.write("Error: no password entered.\n")
        return 1
    except OSError as exc:
        err.write(f"Error: cannot write the password file: {exc}.\n")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
