"""Fixtures for the target tests: the default profile and one test PKI per session."""

from __future__ import annotations

import pytest

from mqttsec.fixtures.pki import PkiFiles, TestPKI
from mqttsec.fixtures.profile import SecurityProfile, load_default_profile


@pytest.fixture(scope="session")
def default_profile() -> SecurityProfile:
    """The default profile (carol's password is random per session)."""
    return load_default_profile()


@pytest.fixture(scope="session")
def profile(default_profile: SecurityProfile) -> SecurityProfile:
    """The profile targets are started from (a test class may override it)."""
    return default_profile


@pytest.fixture(scope="session")
def pki(default_profile: SecurityProfile, tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    """The test PKI with the profile's client certificates, written once per session."""
    certificates = default_profile.certificates
    return TestPKI.create(client_names=certificates).write(tmp_path_factory.mktemp("pki"))
