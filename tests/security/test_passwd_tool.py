"""``mqttsec passwd`` (passwd_tool.main): mosquitto_passwd's interface, and files that work both ways.

The tests marked ``mosquitto`` run the real mosquitto_passwd and mosquitto 2.0: files written by
mosquitto_passwd verify with :class:`PasswordFile`, and files written by our tool log in on
mosquitto (right password 0x00, wrong 0x05 in 3.1.1).
"""

from __future__ import annotations

import io
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import MosquittoBroker, connect_result
from mqttsec.reference_broker.security.passwd_tool import main
from mqttsec.reference_broker.security.passwords import HashScheme, PasswordFile


def run(*argv: str, answers: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run the tool; returns (exit code, stderr). *answers* feed the password prompts."""
    replies: Iterator[str] = iter(answers)
    err = io.StringIO()

    def prompt(text: str) -> str:
        assert text in ("Password: ", "Reenter password: ")
        return next(replies)

    code = main(list(argv), prompt=prompt, stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def load(path: Path) -> PasswordFile:
    return PasswordFile.load(path)  # files we write are 0600: no warning


def test_batch_create_add_update_delete(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    assert run("-c", "-b", str(pw), "alice", "a1") == (0, "")
    assert stat.S_IMODE(pw.stat().st_mode) == 0o600
    assert run("-b", str(pw), "bob", "b1") == (0, "")
    assert run("-b", str(pw), "alice", "a2") == (0, "")
    pwfile = load(pw)
    assert pwfile.usernames == ("alice", "bob")
    assert pwfile.verify("alice", b"a2") and pwfile.verify("bob", b"b1")
    assert run("-D", str(pw), "alice") == (0, "")
    assert load(pw).usernames == ("bob",)
    code, err = run("-D", str(pw), "alice")
    assert code == 1 and "not found" in err
    assert run("-c", "-b", str(pw), "carol", "c") == (0, "")  # -c overwrites
    assert load(pw).usernames == ("carol",)


def test_interactive_prompts_and_mismatch(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    assert run("-c", str(pw), "alice", answers=("pässwörd", "pässwörd")) == (0, "")
    assert load(pw).verify("alice", "pässwörd".encode())
    code, err = run(str(pw), "alice", answers=("one", "two"))
    assert code == 1 and "do not match" in err
    assert load(pw).verify("alice", "pässwörd".encode())  # unchanged


def test_iterations_and_legacy_hash(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    assert run("-I", "1000", "-c", "-b", str(pw), "a", "x")[0] == 0
    assert load(pw).hash_of("a").iterations == 1000
    code, err = run("-H", "sha512", "-b", str(pw), "b", "y")
    assert code == 0 and "weak" in err
    assert load(pw).hash_of("b").scheme is HashScheme.SHA512
    assert load(pw).verify("b", b"y")


@pytest.mark.parametrize(
    "argv, message",
    [
        (("-c", "-D", "f", "u"), "-c and -D cannot be used together"),
        (("-c", "-U", "f"), "-c and -U cannot be used together"),
        (("-D", "-U", "f"), "-D and -U cannot be used together"),
        (("-b", "-D", "f", "u"), "-b and -D cannot be used together"),
        (("-H", "md5", "-b", "f", "u", "p"), "Unknown hash type"),
        (("-I", "0", "-b", "f", "u", "p"), "iterations must be > 0"),
        (("-I",), "not enough other arguments"),
        (("-b", "f", "u"), "wrong number of arguments"),
        (("-c", "-b", "{tmp}/f", "a:b", "p"), "':'"),
        (("-c", "-b", "{tmp}/f", "u", ""), "empty"),
        (("-b", "{tmp}/missing", "u", "p"), "Unable to open password file"),
    ],
)
def test_refusals(tmp_path: Path, argv: tuple[str, ...], message: str) -> None:
    code, err = run(*(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert code == 1
    assert message in err


def test_help_and_no_arguments() -> None:
    out = io.StringIO()
    assert main(["--help"], stdout=out) == 0 and "-U" in out.getvalue()
    assert main([], stdout=io.StringIO()) == 1


def test_upgrade_plain_text_keeps_hashed_lines(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("# staff\nalice:wonderland\n\n bob : builder \n")
    assert run("-U", str(pw)) == (0, "")
    first = pw.read_text()
    pwfile = load(pw)
    assert pwfile.verify("alice", b"wonderland") and pwfile.verify("bob", b"builder")
    code, err = run("-U", str(pw))  # mosquitto_passwd would hash the hashes again
    assert code == 0 and "already hashed" in err
    assert pw.read_text() == first
    pw.write_text("carol\n")
    code, err = run("-U", str(pw))
    assert code == 1 and "line 1" in err


def test_malformed_file_is_not_rewritten(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("alice:\n")
    code, err = run("-b", str(pw), "bob", "b")
    assert code == 1 and f"{pw}:1" in err and "empty" in err
    assert pw.read_text() == "alice:\n"


def test_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real"
    link = tmp_path / "link"
    assert run("-c", "-b", str(real), "a", "x")[0] == 0
    link.symlink_to(real)
    assert run("-b", str(link), "b", "y")[0] == 0
    assert link.is_symlink() and load(real).usernames == ("a", "b")


# ---------------------------------------------------------------- against the real mosquitto


def mosquitto_passwd_run(binary: Path, *argv: str) -> None:
    subprocess.run([str(binary), *argv], check=True, capture_output=True, timeout=10)


@pytest.mark.mosquitto
def test_files_written_by_mosquitto_passwd_verify(mosquitto_passwd: Path, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    mosquitto_passwd_run(mosquitto_passwd, "-c", "-b", str(pw), "alice", "wonder land")
    mosquitto_passwd_run(mosquitto_passwd, "-b", str(pw), "ünïcode", "pä$$:word")
    mosquitto_passwd_run(mosquitto_passwd, "-I", "7", "-b", str(pw), "few", "iterations")
    mosquitto_passwd_run(mosquitto_passwd, "-H", "sha512", "-b", str(pw), "legacy", "old")
    plain = tmp_path / "plain"
    plain.write_text("up:graded\n")
    mosquitto_passwd_run(mosquitto_passwd, "-U", str(plain))
    with pytest.warns(Warning):  # mosquitto_passwd 2.0.11 writes 0644 files
        pwfile = PasswordFile.load(pw)
    assert pwfile.verify("alice", b"wonder land")
    assert pwfile.verify("\u00fcn\u00efcode", "pä$$:word".encode())
    assert pwfile.hash_of("few").iterations == 7 and pwfile.verify("few", b"iterations")
    assert pwfile.verify("legacy", b"old")
    assert not pwfile.verify("alice", b"wonderland")
    with pytest.warns(Warning):
        assert PasswordFile.load(plain).verify("up", b"graded")
    # ... and mosquitto_passwd can edit a file our tool wrote.
    assert run("-b", str(pw), "ours", "x")[0] == 0
    mosquitto_passwd_run(mosquitto_passwd, "-D", str(pw), "alice")
    assert load(pw).usernames == ("ünïcode", "few", "legacy", "ours")


@pytest.fixture(scope="module")
def our_file_in_mosquitto(
    mosquitto_starter: Callable[[str], MosquittoBroker], tmp_path_factory: pytest.TempPathFactory
) -> MosquittoBroker:
    pw = tmp_path_factory.mktemp("pw") / "pw"
    assert run("-c", "-b", str(pw), "alice", "s3cret") == (0, "")
    assert run("-I", "5000", "-b", str(pw), "bob", "pässwörd") == (0, "")
    assert run("-H", "sha512", "-b", str(pw), "legacy", "old")[0] == 0
    return mosquitto_starter(f"password_file {pw}\nallow_anonymous false\n")


@pytest.mark.mosquitto
@pytest.mark.parametrize(
    "username, password, code",
    [
        ("alice", b"s3cret", 0),
        ("alice", b"wrong", 5),
        ("alice", b"", 5),
        ("alice", None, 5),
        ("bob", "pässwörd".encode(), 0),
        ("bob", b"p", 5),
        ("legacy", b"old", 0),
        ("nobody", b"s3cret", 5),
        (None, None, 5),
        # mosquitto compares the password as a C string: bytes after NUL are ignored. Our
        # PasswordFile refuses such a password (see test_passwords).
        ("alice", b"s3cret\x00anything", 0),
    ],
)
def test_files_written_by_us_work_in_mosquitto(
    our_file_in_mosquitto: MosquittoBroker, username: str | None, password: bytes | None, code: int
) -> None:
    assert connect_result(our_file_in_mosquitto.port, username, password) == code
