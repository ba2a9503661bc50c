"""A fuzz session's broker: start a target from a profile, pick the harness login, restart.

The same targets the pytest plugin uses (:func:`mqttsec.fixtures.targets.get_target`), started
the same way (``Target.start(profile, pki, workdir)``). A crash found by fuzzing leaves the
broker dead, so :meth:`FuzzTarget.restart` brings up a fresh one before hypothesis runs the
next (shrinking) example.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from mqttsec.errors import TargetError
from mqttsec.fixtures.pki import PkiFiles, TestPKI
from mqttsec.fixtures.profile import ListenerKind, SecurityProfile, load_default_profile
from mqttsec.fixtures.targets import Endpoint, RunningTarget, get_target
from mqttsec.fixtures.targets.base import Capability
from mqttsec.reference_broker.protocol import ProtocolVersion

from .harness import Login

__all__ = ["PROBE_TOPIC", "FuzzTarget", "choose_login"]

PROBE_TOPIC = "mqttsec/fuzz/probe"

IN_PROCESS = {"reference": "reference:subprocess"}
"""Targets fuzzed in their own process instead: the in-process reference broker would share
this process's GIL with hypothesis, so generating and serving could not overlap (and a
crash would take the fuzzer with it). ``reference`` is therefore fuzzed as
``reference:subprocess`` (the same broker and configuration)."""


def choose_login(profile: SecurityProfile, listener: str) -> Login:
    """The profile user that may publish and read the probe topics on *listener*.

    Raises:
        TargetError: no user (nor anonymous access) can; the profile needs one for fuzzing.
    """
    candidates: list[str | None] = [*sorted(profile.users)]
    if profile.allow_anonymous:
        candidates.insert(0, None)
    for user in candidates:
        if all(
            check(user, topic, listener)
            for check in (profile.may_publish, profile.may_receive)
            for topic in (PROBE_TOPIC, "mqttsec/fuzz/fresh")
        ):
            password = None if user is None else profile.users[user].password
            return Login(user, password)
    raise TargetError(
        f"profile {profile.name!r}: no user may publish and read {PROBE_TOPIC!r} on listener "
        f"{listener!r}; fuzzing needs one (give a user readwrite on mqttsec/fuzz/#)"
    )


class FuzzTarget:
    """One target started for fuzzing, restartable.

    Args:
        spec: the target spec (``"reference"``, ``"local:mosquitto"``, ...).
        workdir: where the PKI and each start's broker files go.
        profile: the security profile; default the shipped one.
    """

    def __init__(self, spec: str, workdir: Path, profile: SecurityProfile | None = None) -> None:
        self.spec = spec
        self.workdir = workdir.resolve()  # the broker subprocess runs in its own cwd
        self.profile = profile or load_default_profile()
        self.target = get_target(IN_PROCESS.get(spec, spec))
        installation = self.target.probe()
        if not installation.installed:
            raise TargetError(f"not installed here: {installation.detail}", target=spec)
        self.version = installation.version
        self._pki: PkiFiles | None = None
        self._starts = itertools.count()
        self.running: RunningTarget | None = None
        self.listener = next(
            (item.name for item in self.profile.listeners if item.kind is ListenerKind.PLAIN),
            None,
        )
        if self.listener is None:
            raise TargetError(f"profile {self.profile.name!r} has no plain listener to fuzz")
        self.login = choose_login(self.profile, self.listener)
        five = Capability.MQTT5 in self.target.capabilities
        self.versions: tuple[ProtocolVersion, ...] = (
            (ProtocolVersion.V311, ProtocolVersion.V5) if five else (ProtocolVersion.V311,)
        )
        """The MQTT versions the target speaks: input in any other would only be refused."""

    def _pki_files(self) -> PkiFiles:
        if self._pki is None:
            certs = self.profile.certificates
            pki = TestPKI.create(client_names=certs, revoked=[c.name for c in certs if c.revoked])
            self._pki = pki.write(self.workdir / "pki")
        return self._pki

    def start(self) -> Endpoint:
        """Start the broker (stopping a previous one first); returns the plain endpoint."""
        self.stop()
        workdir = self.workdir / f"{self.spec.replace(':', '_')}-{next(self._starts)}"
        self.running = self.target.start(self.profile, self._pki_files(), workdir)
        assert self.listener is not None
        return self.running.endpoint(self.listener)

    def restart(self) -> Endpoint:
        """A fresh broker after a crash; a failure to stop the dead one is not an error."""
        try:
            self.stop()
        except TargetError:
            pass
        return self.start()

    def stop(self) -> None:
        """Stop the broker if running.

        Raises:
            TargetError: it failed while running or could not be stopped.
        """
        running, self.running = self.running, None
        if running is not None:
            running.stop()
