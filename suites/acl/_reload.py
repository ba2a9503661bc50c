"""Changing a running target's permissions mid-scenario, for the "access revoked" classes.

Some weaknesses only show when permissions change while state survives: a retained message
outliving its writer's access (mosquitto CVE-2018-12546), a durable subscription or queued
messages outliving the reader's (CVE-2021-34434). Those scenarios need a target whose ACL
can be replaced and reloaded while it runs: the in-process reference broker
(``BackgroundBroker.reload``) and process targets that re-read their ``acl`` file on SIGHUP
(mosquitto, ``reference:subprocess``). Everything else makes them *unsupported*.

A SIGHUP is asynchronous, so a reload is proven, not waited for: the new ACL also grants a
fresh marker topic to one user, who publishes to it until its own message comes back. The
original ACL (with another marker) is put back the same way when the scenario ends.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mqttsec.fixtures.clients import ClientTimeout
from mqttsec.fixtures.plugin import mqttsec_unsupported
from mqttsec.fixtures.profile import AclEntry, SecurityProfile
from mqttsec.fixtures.targets import RunningTarget
from mqttsec.reference_broker.security.acl import Grant

from ._support import Actor, MqttClientFactory, unique

__all__ = ["acl_reloader", "permissions_changed"]

RELOAD_TIMEOUT = 10.0
"""Seconds a reload may take to show (mosquitto handles SIGHUP in its main loop)."""

_SIGHUP_TARGETS = ("local:mosquitto", "reference:subprocess")


def acl_reloader(target: RunningTarget) -> Callable[[str], None] | None:
    """A function that replaces *target*'s ACL file with the given text and asks the
    broker to reload it, or None when this target cannot change permissions while
    running."""
    broker = getattr(target, "broker", None)
    config = getattr(broker, "config", None)
    acl_file = getattr(config, "acl_file", None)
    if broker is not None and acl_file and callable(getattr(broker, "reload", None)):
        in_process = Path(acl_file)

        def reload_in_process(text: str) -> None:
            in_process.write_text(text)
            broker.reload()

        return reload_in_process
    process = getattr(target, "process", None)
    console = getattr(process, "console", None)
    if target.name in _SIGHUP_TARGETS and isinstance(console, Path):
        path = console.parent / "acl"
        if path.exists():
            pid = int(process.pid)  # type: ignore[union-attr]

            def reload_by_signal(text: str) -> None:
                path.write_text(text)
                os.kill(pid, signal.SIGHUP)  # our own broker process, by its PID

            return reload_by_signal
    return None


def _with_marker(
    profile: SecurityProfile, user: str, rules: tuple[AclEntry, ...]
) -> tuple[SecurityProfile, str]:
    marker = f"mqttsec-reload/{unique('marker')}"
    entry = AclEntry(topic=marker, access=Grant.READWRITE, user=user)
    return dataclasses.replace(profile, acl=(*rules, entry)), marker


def _apply(
    reload: Callable[[str], None], factory: MqttClientFactory, profile: SecurityProfile, user: str
) -> None:
    """Load *profile*'s ACL plus a fresh marker rule for *user*; return once *user*'s own
    message on the marker topic comes back (the new ACL is in force)."""
    marked, marker = _with_marker(profile, user, profile.acl)
    reload(marked.render_acl_file())
    probe = Actor(factory, marked, user)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while time.monotonic() < deadline:
        probe.subscribe(marker)
        token = unique("reloaded").encode()
        probe.publish(marker, token)
        try:
            while probe.next_message(0.2).payload != token:
                pass
            probe.close()
            return
        except ClientTimeout:
            continue
    raise ClientTimeout(  # a harness failure (error), not a verdict on the broker
        f"{user!r} never saw its marker after {RELOAD_TIMEOUT}s: the ACL was not reloaded"
    )


@contextmanager
def permissions_changed(
    target: RunningTarget,
    factory: MqttClientFactory,
    profile: SecurityProfile,
    extra: tuple[AclEntry, ...],
) -> Iterator[SecurityProfile]:
    """Run the body with *extra* rules added to the target's ACL (deny rules come first
    when rendered, so a deny revokes what another rule grants); yields the changed
    profile, whose answers the body must use. The original ACL is restored afterwards.

    Unsupported when the target cannot reload its ACL while running.
    """
    reload = acl_reloader(target)
    if reload is None:
        mqttsec_unsupported(f"{target.name} cannot change permissions while running")
    assert reload is not None
    users = sorted(u for u in profile.users if profile.may_connect(u, "plain"))
    if not users:
        mqttsec_unsupported(f"profile {profile.name!r} has no password user")
    changed = dataclasses.replace(profile, acl=(*profile.acl, *extra))
    try:
        _apply(reload, factory, changed, users[0])
        yield changed
    finally:
        _apply(reload, factory, profile, users[0])
