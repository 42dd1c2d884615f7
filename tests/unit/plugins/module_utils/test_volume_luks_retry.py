"""qemu-img's LUKS timing failure is retried; any other creation failure is not."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import volume
from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError
from ansible_collections.virtops.storage.plugins.module_utils.volume import (
    LUKS_TIMING_ATTEMPTS, PoolHandle, VolumeConverger)


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    """The pause between attempts is real time: none in unit tests (the attempts are counted instead)."""
    pauses = []
    monkeypatch.setattr(volume.time, "sleep", pauses.append)
    return pauses


class FakeError(Exception):
    def get_error_message(self):
        return str(self)

    def get_error_code(self):
        return 1


class FakePool:
    """createXML fails with the given messages, then returns 'volume'."""

    def __init__(self, failures):
        self.failures = list(failures)
        self.calls = 0

    def createXML(self, xml, flags):  # pylint: disable=invalid-name
        self.calls += 1
        if self.failures:
            raise LibvirtCallError("creating volume", FakeError(self.failures.pop(0)))
        return "volume"


def converger(pool):
    self = VolumeConverger.__new__(VolumeConverger)
    self.name = "v.qcow2"
    self.handle = PoolHandle(pool, "p", {}, None)
    return self


def passthrough(action, function, *args):
    return function(*args)


@pytest.fixture(autouse=True)
def direct_call(monkeypatch):
    monkeypatch.setattr(volume, "call", passthrough)


TIMING = "qemu-img: /p/v.qcow2: Unable to get accurate CPU usage"


def test_luks_timing_failure_is_retried():
    pool = FakePool([TIMING, TIMING])
    assert converger(pool)._create_volume("<volume/>", 0, encrypted=True) == "volume"
    assert pool.calls == 3


def test_luks_timing_failure_gives_up_after_the_last_attempt():
    pool = FakePool([TIMING] * LUKS_TIMING_ATTEMPTS)
    with pytest.raises(LibvirtCallError, match="accurate CPU usage"):
        converger(pool)._create_volume("<volume/>", 0, encrypted=True)
    assert pool.calls == LUKS_TIMING_ATTEMPTS


@pytest.mark.parametrize("encrypted, message", [(False, TIMING), (True, "Permission denied")])
def test_other_failures_are_not_retried(encrypted, message):
    pool = FakePool([message])
    with pytest.raises(LibvirtCallError):
        converger(pool)._create_volume("<volume/>", 0, encrypted=encrypted)
    assert pool.calls == 1
