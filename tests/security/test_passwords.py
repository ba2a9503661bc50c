"""Unit tests of the mosquitto-compatible password file (no broker needed)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqttsec.errors import ConfigError
from mqttsec.reference_broker.security.errors import PasswordFileError, SecurityConfigWarning
from mqttsec.reference_broker.security.passwords import (
    HashScheme,
    PasswordFile,
    PasswordHash,
    hash_password,
    validate_username,
)

# Written by mosquitto_passwd 2.0.11 (`-b pw alice secret`, `-H sha512 -b pw dave d`).
ALICE = (
    "alice:$7$101$P57nSygutdqJ4pha$4rt1SVxeZQLjd11tgpKTcfA0LXNfCpUNp//IdgZEhJiFfhT3CFy0TkTix7sXAy7"
    "uveWVJVy0uE0sgAH7+Kwcaw=="
)
DAVE = (
    "dave:$6$B3Sk9L94vS7k4lNX$P+/bUSHpX1/eYS2018Z4JeqpBR4MBLyFV3FYT4mHQdUo4Ym1OZn1/fLzveD06aamZZ+A9zd"
    "FlvwWu5DxUc48YQ=="
)


def test_known_mosquitto_hashes_verify() -> None:
    pwfile = PasswordFile.parse(f"{ALICE}\n{DAVE}\n")
    assert pwfile.usernames == ("alice", "dave")
    assert pwfile.verify("alice", b"secret")
    assert not pwfile.verify("alice", b"secreT")
    assert pwfile.verify("dave", b"d")
    assert not pwfile.verify("dave", b"")
    assert pwfile.hash_of("dave").scheme is HashScheme.SHA512


def test_hash_format_is_pbkdf2_sha512() -> None:
    salt = bytes(range(12))
    text = hash_password(b"pw", salt=salt)
    tag, iterations, salt64, hash64 = text.split("$")[1:]
    assert (tag, iterations) == ("7", "101")
    assert base64.b64decode(salt64) == salt
    assert base64.b64decode(hash64) == hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101, 64)
    assert hash_password("pw", salt=salt) == text  # str is UTF-8
    assert hash_password(b"pw", iterations=7, salt=salt).startswith("$7$7$")


def test_random_salt_differs() -> None:
    assert hash_password(b"pw") != hash_password(b"pw")


@pytest.mark.parametrize(
    "line, problem",
    [
        ("alice", "no ':'"),
        ("alice:", "empty"),  # CVE-2018-12551: blank password must not become "no password"
        ("alice:   ", "empty"),
        (":$7$101$AAAAAAAAAAAAAAAA$" + "A" * 86 + "==", "username is empty"),
        ("alice:secret", "not hashed"),
        ("alice:$5$abc$def", "unknown hash type"),
        ("alice:$7$101$AAAA$BBBB", "salt is 3 bytes"),
        ("alice:$7$0$AAAAAAAAAAAAAAAA$" + "A" * 86 + "==", "iteration count"),
        ("alice:$7$-1$AAAAAAAAAAAAAAAA$" + "A" * 86 + "==", "positive integer"),
        ("alice:$7$10x$AAAAAAAAAAAAAAAA$" + "A" * 86 + "==", "positive integer"),
        ("alice:$7$101$AAAAAAAAAAAAAAAA$" + "A" * 80, "60 bytes"),
        ("alice:$7$101$AAAAAAAAAAAAAAAA$" + "A" * 85 + "!=", "base64"),
        ("alice:$7$101$AAAAAAAAAAAAAAAA", "4 fields"),
        ("alice:$6$AAAAAAAAAAAAAAAA", "3 fields"),
        ("alice:$7$101$AAAAAAAAAAAAAAAA$" + "A" * 86 + "==:x", "more than one ':'"),
        ("alice::$7$101$AAAAAAAAAAAAAAAA$" + "A" * 86 + "==", "more than one ':'"),
    ],
)
def test_malformed_lines_refuse_the_file(line: str, problem: str) -> None:
    text = f"{ALICE.replace('alice', 'zoe')}\n\n{line}\n"
    with pytest.raises(PasswordFileError) as info:
        PasswordFile.parse(text, source="pw.txt")
    err: PasswordFileError = info.value
    assert issubclass(PasswordFileError, ConfigError)
    assert err.path == "pw.txt" and err.line == 3
    assert problem in err.problem and err.fix
    assert "AAAAAAAAAAAAAAAA" not in str(err)  # never echo hashes into logs


def test_plain_text_line_suggests_upgrade() -> None:
    with pytest.raises(PasswordFileError, match=r"passwd -U"):
        PasswordFile.parse("bob:hunter2\n", source="f")


def test_duplicate_user_refused() -> None:
    with pytest.raises(PasswordFileError, match="twice"):
        PasswordFile.parse(f"{ALICE}\n{ALICE}\n")


def test_comments_blank_lines_whitespace_and_crlf() -> None:
    text = f"# users\r\n\r\n  {ALICE.replace(':', ' : ', 1)}  \r\n"
    pwfile = PasswordFile.parse(text)
    assert pwfile.verify("alice", b"secret")
    assert pwfile.dumps() == f"# users\n{ALICE}\n"


def test_unknown_user_costs_the_same_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown username does the same PBKDF2 as a known one (no user enumeration by timing).

    Counted, not timed: the work is the PBKDF2 calls and their iteration counts, which a
    wall-clock ratio on a loaded CI machine cannot measure reliably.
    """
    pwfile = PasswordFile()
    pwfile.set_password("slow", b"pw", iterations=20_000)
    pwfile.set_password("slow2", b"pw", iterations=20_000)
    calls: list[tuple[str, int, int]] = []
    real = hashlib.pbkdf2_hmac

    def counting(name: str, password: bytes, salt: bytes, iterations: int, dklen: int) -> bytes:
        calls.append((name, iterations, dklen))
        return real(name, password, salt, iterations, dklen)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    assert not pwfile.verify("slow", b"wrong")
    known = list(calls)
    calls.clear()
    assert not pwfile.verify("nobody", b"wrong")
    assert calls == known == [("sha512", 20_000, 64)]


def test_empty_and_nul_passwords_never_verify() -> None:
    pwfile = PasswordFile()
    pwfile.set_password("u", b"secret")
    assert not pwfile.verify("u", b"")
    assert not pwfile.verify("u", b"secret\x00anything")  # mosquitto would accept this
    with pytest.raises(ValueError, match="empty"):
        hash_password(b"")
    with pytest.raises(ValueError, match="NUL"):
        hash_password(b"a\x00b")
    empty = PasswordHash(
        HashScheme.PBKDF2_SHA512, bytes(12), hashlib.pbkdf2_hmac("sha512", b"", bytes(12), 101, 64)
    )
    assert not empty.matches(b"")  # a stored hash of "" (mosquitto_passwd allows it) never logs in


def test_add_update_delete_keep_order_and_layout() -> None:
    pwfile = PasswordFile.parse(f"# head\n{ALICE}\n{DAVE}\n")
    pwfile.add("carol", b"c")
    with pytest.raises(ValueError, match="exists"):
        pwfile.add("carol", b"again")
    pwfile.set_password("alice", b"new")
    assert pwfile.usernames == ("alice", "dave", "carol")
    assert pwfile.verify("alice", b"new") and not pwfile.verify("alice", b"secret")
    pwfile.delete("dave")
    with pytest.raises(KeyError):
        pwfile.delete("dave")
    reparsed = PasswordFile.parse(pwfile.dumps())
    assert reparsed.usernames == ("alice", "carol")
    assert reparsed.dumps().startswith("# head\nalice:$7$101$")


@pytest.mark.parametrize("name", ["", "a:b", "tab\there", "nl\n", " lead", "trail ", "x" * 65536])
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(ValueError):
        validate_username(name)
    with pytest.raises(ValueError):
        PasswordFile().set_password(name, b"pw")


def test_save_is_0600_and_load_round_trips(tmp_path: Path) -> None:
    pwfile = PasswordFile()
    pwfile.set_password("ünï", "pässword")
    target = tmp_path / "pw"
    target.write_text("old")
    target.chmod(0o644)
    pwfile.save(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    loaded = PasswordFile.load(target)
    assert loaded.verify("ünï", "pässword".encode())
    assert [p.name for p in tmp_path.iterdir()] == ["pw"]  # no temporary file left


def test_world_readable_file_warns_or_refuses(tmp_path: Path) -> None:
    target = tmp_path / "pw"
    target.write_text(ALICE + "\n")
    target.chmod(0o644)
    with pytest.warns(SecurityConfigWarning, match="chmod 0600"):
        assert "alice" in PasswordFile.load(target)
    with pytest.raises(PasswordFileError, match="readable by others"):
        PasswordFile.load(target, strict_permissions=True)


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(PasswordFileError, match="cannot read"):
        PasswordFile.load(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.write_bytes(ALICE.encode() + b"\n\xff\xfe:x\n")
    os.chmod(bad, 0o600)
    with pytest.raises(PasswordFileError) as info:
        PasswordFile.load(bad)
    assert info.value.line == 2


def test_repr_hides_secrets() -> None:
    text = repr(PasswordHash.create(b"pw", salt=b"S" * 12))
    assert "S" * 4 not in text and "iterations=101" in text


@settings(max_examples=25, deadline=None)
@given(
    password=st.binary(min_size=1, max_size=40).filter(lambda b: b"\x00" not in b),
    other=st.binary(max_size=40),
    iterations=st.integers(1, 50),
)
def test_round_trip_property(password: bytes, other: bytes, iterations: int) -> None:
    pwfile = PasswordFile()
    pwfile.set_password("u", password, iterations=iterations)
    again = PasswordFile.parse(pwfile.dumps())
    assert again.verify("u", password)
    assert again.verify("u", other) == (other == password)
    assert again.hash_of("u").iterations == iterations
