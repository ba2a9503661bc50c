"""Plugin loading and the chain's semantics: order, sync/async, fail closed, topic rewrites."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import plugin_samples
import pytest

from mqttsec.reference_broker.protocol import ProtocolVersion
from mqttsec.reference_broker.security.plugin_api import (
    AuthResult,
    ClientInfo,
    ConnectInfo,
    Decision,
    PluginMessage,
)
from mqttsec.reference_broker.security.plugins import (
    PluginChain,
    PluginConfigError,
    PluginSpec,
    load_plugin,
)

T = TypeVar("T")
CLIENT = ClientInfo("c1", "alice", ProtocolVersion.V5, ("127.0.0.1", 50000), "tls")
CONNECT = ConnectInfo(CLIENT, b"s3cret", clean_start=True)
MESSAGE = PluginMessage("a/b", b"hello", qos=1)


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


def chain(*specs: tuple[str, dict[str, Any]], timeout: float = 1.0) -> PluginChain:
    return PluginChain.from_specs(
        [
            PluginSpec(f"plugin_samples:{path}", options, name=f"p{i}")
            for i, (path, options) in enumerate(specs)
        ],
        timeout=timeout,
    )


# --- loading ------------------------------------------------------------------------


def test_load_class_and_factory_function_with_options() -> None:
    loaded = load_plugin(PluginSpec("plugin_samples:Fixed", {"answer": True}))
    assert isinstance(loaded.instance, plugin_samples.Fixed) and loaded.instance.answer is True
    assert set(loaded.hooks) == {"authenticate", "authorize_publish", "authorize_subscribe"}
    assert loaded.name == "plugin_samples:Fixed"
    assert isinstance(
        load_plugin(PluginSpec("plugin_samples:factory")).instance, plugin_samples.Fixed
    )


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("plugin_samples", "not 'module:factory'"),
        ("plugin_samples:", "not 'module:factory'"),
        ("no_such_module_xyz:Plugin", "cannot import"),
        ("plugin_samples:Missing", "has no 'Missing'"),
        ("plugin_samples:NOT_CALLABLE", "not callable"),
        ("plugin_samples:refuses", "option 'x' is required"),
        ("plugin_samples:NoHooks", "no hook method"),
    ],
)
def test_load_errors_name_the_plugin_and_the_fix(path: str, fragment: str) -> None:
    with pytest.raises(PluginConfigError) as info:
        PluginChain.from_specs([PluginSpec(path, name="mine")])
    assert (
        "plugin 'mine'" in str(info.value)
        and fragment in str(info.value)
        and "Fix:" in str(info.value)
    )


# --- authenticate ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["Fixed", "AsyncFixed"])
@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([None, None], Decision.NO_OPINION),
        ([True, None], Decision.ALLOW),
        ([None, True], Decision.ALLOW),
        ([True, False], Decision.DENY),  # a later deny still denies
        ([False, True], Decision.DENY),
        ([AuthResult(Decision.ALLOW), AuthResult(Decision.NO_OPINION)], Decision.ALLOW),
    ],
)
def test_authenticate_any_deny_denies_else_any_allow_allows(
    cls: str, answers: list[object], expected: Decision
) -> None:
    result = run(chain(*[(cls, {"answer": a}) for a in answers]).authenticate(CONNECT))
    assert result.decision is expected


def test_authenticate_stops_at_the_first_deny_and_keeps_its_reason_code() -> None:
    plugin_samples.CALLS.clear()
    c = chain(
        ("Fixed", {"answer": plugin_samples.DENY, "tag": "a"}),
        ("Fixed", {"answer": True, "tag": "b"}),
    )
    result = run(c.authenticate(CONNECT))
    assert result == AuthResult(Decision.DENY, 0x8A, "banned")
    assert plugin_samples.CALLS == ["a.authenticate"]


@pytest.mark.parametrize(
    ("spec", "log_fragment"),
    [
        (("Broken", {}), "RuntimeError"),
        (("Hangs", {}), "timed out"),
        (("Fixed", {"answer": "yes"}), "returned str"),
        (("Fixed", {"answer": 1}), "returned int"),
    ],
)
def test_authenticate_fails_closed(
    spec: tuple[str, dict[str, Any]], log_fragment: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    c = chain(("Fixed", {"answer": True}), spec, timeout=0.2)
    assert run(c.authenticate(CONNECT)).decision is Decision.DENY
    assert "plugin 'p1'" in caplog.text and log_fragment in caplog.text
    assert "s3cret" not in caplog.text


def test_connect_info_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(CONNECT) and "<hidden>" in repr(CONNECT)


def test_auth_result_reason_code_only_on_deny() -> None:
    with pytest.raises(ValueError):
        AuthResult(Decision.ALLOW, 0x87)
    with pytest.raises(ValueError):
        AuthResult(Decision.DENY, 0x05)


# --- authorize ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["Fixed", "AsyncFixed"])
@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([True, None], True),
        ([None, None], True),
        ([True, False], False),
        (["yes"], False),
        ([1], False),
    ],
)
def test_authorize_all_must_allow(cls: str, answers: list[object], expected: bool) -> None:
    c = chain(*[(cls, {"answer": a}) for a in answers])
    assert run(c.authorize_publish(CLIENT, MESSAGE)) is expected
    assert run(c.authorize_subscribe(CLIENT, "a/#", 1)) is expected


def test_authorize_fails_closed_on_sync_and_async_exceptions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = chain(("Fixed", {"answer": True}), ("Broken", {}))
    assert run(c.authorize_publish(CLIENT, MESSAGE)) is False
    assert run(c.authorize_subscribe(CLIENT, "a/#", 0)) is False
    assert "async boom" in caplog.text and "KeyError" in caplog.text


def test_plugins_without_a_hook_are_skipped() -> None:
    c = chain(("Tagger", {"tag": "t"}))
    assert not c.implements("authenticate") and c.implements("on_message")
    assert run(c.authenticate(CONNECT)).decision is Decision.NO_OPINION
    assert run(c.authorize_publish(CLIENT, MESSAGE)) is True


# --- on_message -------------------------------------------------------------------------


def test_on_message_pipes_through_every_plugin_in_order() -> None:
    out = run(
        chain(("Tagger", {"tag": "one"}), ("Tagger", {"tag": "two"})).on_message(CLIENT, MESSAGE)
    )
    assert out is not None and out.user_property("seen-by") == ["one", "two"]
    assert out.payload == MESSAGE.payload and MESSAGE.user_properties == ()  # input untouched


def test_on_message_drop_stops_the_chain() -> None:
    assert run(chain(("Dropper", {}), ("Tagger", {"tag": "x"})).on_message(CLIENT, MESSAGE)) is None


def test_on_message_exception_drops_the_message(caplog: pytest.LogCaptureFixture) -> None:
    assert run(chain(("Tagger", {"tag": "x"}), ("Broken", {})).on_message(CLIENT, MESSAGE)) is None
    assert "plugin 'p1': on_message raised RuntimeError" in caplog.text


def test_topic_rewrite_is_authorized_again() -> None:
    """A plugin that rewrites a topic must not skip the ACL (mosquitto open issues)."""
    c = chain(("Tagger", {"tag": "x", "move_to": "secret/t"}))
    assert run(c.on_message(CLIENT, MESSAGE)) is None  # no re-check available: dropped
    seen: list[str] = []

    async def deny(message: PluginMessage) -> bool:
        seen.append(message.topic)
        return False

    async def allow(message: PluginMessage) -> bool:
        return True

    assert run(c.on_message(CLIENT, MESSAGE, reauthorize=deny)) is None and seen == ["secret/t"]
    moved = run(c.on_message(CLIENT, MESSAGE, reauthorize=allow))
    assert moved is not None and moved.topic == "secret/t"


@pytest.mark.parametrize(
    "changes",
    [
        {"topic": "a/+"},
        {"topic": ""},
        {"topic": "a\x00"},
        {"qos": 3},
        {"payload": "text"},
        {"user_properties": (("k",),)},
        {"retain": 1},
    ],
)
def test_plugin_messages_are_validated(changes: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        MESSAGE.replace(**changes)


def test_close_calls_every_close_and_swallows_errors() -> None:
    plugin_samples.Closing.closed = False
    run(chain(("Broken", {}), ("Closing", {})).close())
    assert plugin_samples.Closing.closed
