"""The ``mqttsec`` command line: arguments, exit codes, one-line errors, the results file."""

from __future__ import annotations

import errno
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttsec import __version__
from mqttsec.cli import main
from mqttsec.reference_broker.config import BrokerConfig, ListenerConfig, load_config
from mqttsec.reference_broker.security.plugins import PluginSpec
from mqttsec.reference_broker.security.tls import TlsSettings
from mqttsec.results import SCHEMA, Outcome
from mqttsec.smoke import CHECKS


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def closing_server() -> Iterator[int]:
    """A TCP server that accepts every connection and closes it at once: not an MQTT broker."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(5)
    server.close()


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mqttsec {__version__}"


def test_version_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert f"mqttsec {__version__}" in out
    assert "paho-mqtt" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["smoke", "--port", port])
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_smoke_unreachable_broker_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    assert main(["smoke", "--port", str(port), "--report-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"127.0.0.1:{port}" in err and "mqttsec broker" in err
    assert not (tmp_path / "results.json").exists()


def test_smoke_against_a_non_broker_fails_every_check(
    closing_server: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["smoke", "--port", str(closing_server), "--protocol", "5.0", "--timeout", "1"]
    assert main([*argv, "--report-dir", str(tmp_path)]) == 1
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["target"] == {"name": "endpoint", "host": "127.0.0.1", "port": closing_server}
    outcomes = {r["id"]: r["outcome"] for r in doc["results"]}
    assert outcomes["SMOKE-CONNECT"] == "fail"
    assert doc["summary"]["pass"] < doc["summary"]["total"] == len(CHECKS)
    assert "FAIL" in capsys.readouterr().out


def test_smoke_reference_broker_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The main job: the in-process reference broker passes every check at 3.1.1 and 5.0."""
    report_dir = tmp_path / "report"
    rc = main(["smoke", "--report-dir", str(report_dir)])
    out = capsys.readouterr().out
    assert rc == 0, out
    doc = json.loads((report_dir / "results.json").read_text())
    assert doc["schema"] == SCHEMA
    assert doc["tool"] == {"name": "mqttsec", "version": __version__}
    assert doc["kind"] == "smoke" and doc["target"]["name"] == "reference"
    assert doc["started"] <= doc["finished"]
    assert len(doc["results"]) == 2 * len(CHECKS)
    for row in doc["results"]:
        assert set(row) == {"id", "name", "version", "outcome", "detail", "duration"}
        assert row["outcome"] == Outcome.PASS, row
        assert row["version"] in ("3.1.1", "5.0")
    assert f"{2 * len(CHECKS)} passed, 0 failed" in out


def test_report_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["smoke", "--report-dir", str(target)]) == 2
    assert "--report-dir" in capsys.readouterr().err


def test_broker_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broker", "-c", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mqttsec: error: ") and "nope.toml" in err and err.count("\n") == 1


def test_broker_bad_config_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "broker.toml"
    config.write_text("prot = 1884\n")
    assert main(["broker", "-c", str(config)]) == 2
    assert "'prot'" in capsys.readouterr().err


@pytest.fixture
def fake_run_broker(monkeypatch: pytest.MonkeyPatch) -> list[BrokerConfig]:
    """Replace run_broker with a recorder, so option handling is tested without serving."""
    seen: list[BrokerConfig] = []
    module = types.ModuleType("mqttsec.reference_broker.server")

    def run_broker(config: BrokerConfig) -> int:
        seen.append(config)
        return 0

    module.run_broker = run_broker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mqttsec.reference_broker.server", module)
    return seen


def test_broker_options_override_the_file(
    tmp_path: Path, fake_run_broker: list[BrokerConfig]
) -> None:
    config = tmp_path / "broker.toml"
    config.write_text('host = "127.0.0.1"\nport = 1884\nmax_qos = 1\n')
    assert main(["broker", "-c", str(config), "--port", "1999", "--log-level", "debug"]) == 0
    (seen,) = fake_run_broker
    assert (seen.host, seen.port, seen.max_qos, seen.log_level) == ("127.0.0.1", 1999, 1, "DEBUG")


def test_broker_defaults_without_a_file(fake_run_broker: list[BrokerConfig]) -> None:
    assert main(["broker", "--host", "::1"]) == 0
    assert fake_run_broker[0] == BrokerConfig(host="::1")


def test_broker_print_config_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_run_broker: list[BrokerConfig]
) -> None:
    config = tmp_path / "broker.toml"
    config.write_text('max_qos = 1\nlog_level = "debug"\n')
    assert main(["broker", "-c", str(config), "--port", "0", "--print-config"]) == 0
    assert fake_run_broker == []  # printed, not served
    printed = tmp_path / "printed.toml"
    printed.write_text(capsys.readouterr().out)
    assert load_config(printed) == BrokerConfig(port=0, max_qos=1, log_level="DEBUG")


def test_broker_port_in_use_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = types.ModuleType("mqttsec.reference_broker.server")

    def run_broker(config: BrokerConfig) -> int:
        raise OSError(errno.EADDRINUSE, "Address already in use")

    module.run_broker = run_broker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mqttsec.reference_broker.server", module)
    assert main(["broker", "--port", "1883"]) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:1883" in err and "already in use" in err and "--port" in err


def test_real_broker_port_in_use(tmp_path: Path) -> None:
    """End to end, in a subprocess: a taken port gives exit 2 and one line, no traceback."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "mqttsec", "broker", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            cwd=tmp_path,
        )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr
    assert last.startswith("mqttsec: error: ") and f"127.0.0.1:{port}" in last and "in use" in last


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_broker_command_serves_and_stops_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stop_signal: signal.Signals
) -> None:
    """`mqttsec broker -c broker.toml` in a subprocess: it serves real clients (the smoke
    check passes against it), logs connects, and exits 0 on SIGTERM/SIGINT."""
    port = free_port()
    config = tmp_path / "broker.toml"
    config.write_text(
        f'host = "127.0.0.1"\nport = {port}\nlog_level = "warning"\nallow_anonymous = true\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqttsec", "broker", "-c", str(config), "--log-level", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "broker did not start listening in 15 s"
                time.sleep(0.05)
        argv = ["smoke", "--port", str(port), "--report-dir", str(tmp_path / "r")]
        assert main(argv) == 0, capsys.readouterr().out
        proc.send_signal(stop_signal)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert "connected" in output  # --log-level info overrode the file's warning


# --- security and TLS options (named like mosquitto's) -------------------------------------


def test_security_flags_map_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_run_broker: list[BrokerConfig]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["broker", "--allow-anonymous", "true", "--password-file", "pw", "--acl-file", "acl"]
    assert main(argv) == 0
    (seen,) = fake_run_broker
    assert seen.allow_anonymous is True
    assert (seen.password_file, seen.acl_file) == (str(tmp_path / "pw"), str(tmp_path / "acl"))
    assert main(["broker", "--allow-anonymous", "false"]) == 0
    assert fake_run_broker[1].allow_anonymous is False


def test_tls_flags_make_a_tls_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_run_broker: list[BrokerConfig]
) -> None:
    monkeypatch.chdir(tmp_path)
    tls = ["--tls-port", "8883", "--certfile", "s.crt", "--keyfile", "s.key", "--cafile", "ca"]
    extra = ["--require-certificate", "--use-identity-as-username", "--crlfile", "crl"]
    extra += ["--tls-version", "tlsv1.3", "--ciphers", "ECDHE+AESGCM"]
    assert main(["broker", "--host", "::1", *tls, *extra]) == 0
    expected = TlsSettings(
        certfile=str(tmp_path / "s.crt"),
        keyfile=str(tmp_path / "s.key"),
        cafile=str(tmp_path / "ca"),
        require_certificate=True,
        use_identity_as_username=True,
        crlfile=str(tmp_path / "crl"),
        tls_version="tlsv1.3",
        ciphers="ECDHE+AESGCM",
    )
    # --tls-port alone: only the TLS listener; with --port the plain one too.
    assert fake_run_broker[0].listeners == (ListenerConfig("tls", "::1", 8883, expected),)
    assert main(["broker", "--port", "1883", *tls, "--use-subject-as-username"]) == 0
    plain, secure = fake_run_broker[1].listeners
    assert plain == ListenerConfig("default", "127.0.0.1", 1883)
    assert secure.port == 8883 and secure.tls is not None and secure.tls.use_subject_as_username


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        # TLS files without a TLS listener never apply to the plain one (mosquitto #2283).
        (["--certfile", "c", "--keyfile", "k"], ["--certfile, --keyfile", "--tls-port"]),
        (["--require-certificate"], ["--require-certificate", "--tls-port"]),
        (["--tls-port", "8883"], ["--certfile and --keyfile"]),
        (["--tls-port", "1", "--certfile", "c", "--keyfile", "k", "--crlfile", "r"], ["cafile"]),
    ],
)
def test_bad_tls_flags_are_one_line_errors(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["broker", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mqttsec: error: ") and err.count("\n") == 1
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("argv", [["--allow-anonymous", "maybe"], ["--tls-version", "tlsv1.1"]])
def test_bad_flag_values_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["broker", *argv])
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_port_flag_with_listener_tables_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "broker.toml"
    config.write_text("[[listeners]]\nport = 1884\n")
    assert main(["broker", "-c", str(config), "--port", "1999"]) == 2
    assert "[[listeners]]" in capsys.readouterr().err


def test_print_config_round_trips_listeners_and_plugins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_run_broker: list[BrokerConfig]
) -> None:
    config = tmp_path / "broker.toml"
    config.write_text(
        'password_file = "pw"\n[[listeners]]\nname = "p"\nport = 0\n'
        '[[listeners]]\nname = "t"\nport = 8883\ncertfile = "c"\nkeyfile = "k"\n'
        'cafile = "ca"\nrequire_certificate = true\n'
        'sni."a.example" = { certfile = "a.crt", keyfile = "a.key" }\n'
        '[[plugins]]\npath = "m:f"\noptions = { key = "v", n = [1, 2], sub = { x = true } }\n'
    )
    assert main(["broker", "-c", str(config), "--print-config"]) == 0
    printed = tmp_path / "elsewhere" / "printed.toml"
    printed.parent.mkdir()
    printed.write_text(capsys.readouterr().out)
    loaded = load_config(printed)
    assert loaded == load_config(config)
    assert loaded.plugins == (PluginSpec("m:f", {"key": "v", "n": [1, 2], "sub": {"x": True}}),)


def test_passwd_subcommand_is_mosquitto_passwd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pwfile = tmp_path / "pw"
    assert main(["passwd", "-c", "-b", str(pwfile), "alice", "s3cret"]) == 0
    assert pwfile.read_text().startswith("alice:$7$")
    assert main(["passwd", "-D", str(pwfile), "alice"]) == 0
    assert "alice" not in pwfile.read_text()
    assert main(["passwd", "-b", str(tmp_path / "missing" / "pw"), "bob", "x"]) == 1


def test_pki_subcommand_writes_the_test_pki(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pki"
    assert main(["pki", "--out", str(out), "--client", "sensor-7"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    names = {entry["file"] for entry in manifest["files"]}
    assert {"client-sensor-7.crt", "client-sensor-7.key", "crl.pem"} <= names
    assert (out / "client-sensor-7.key").stat().st_mode & 0o077 == 0
    assert main(["pki"]) == 2  # --out is required: a usage error, not a traceback
