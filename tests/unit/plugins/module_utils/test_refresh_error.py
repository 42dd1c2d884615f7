"""A failed refresh names its cause, the task's option that names the pool, and that libvirt stopped the pool."""

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils import volume
from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError, VirtopsError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import pool_type
from ansible_collections.virtops.storage.plugins.module_utils.volume import PoolHandle, refresh_pool

from .fake_libvirt import libvirt_error

SPEC = {"type": "gluster", "name": "g", "source": {"hosts": [{"name": "gl1"}], "name": "vol1", "dir": "/"}}


class FakeConnection:
    def getURI(self):  # pylint: disable=invalid-name
        return "qemu:///system"


class FailingPool:
    """refresh fails with ``words``; libvirt then leaves the pool active or not (``stops``)."""

    def __init__(self, words, stops):
        self.words, self.stops, self.active = words, stops, True

    def refresh(self, flags):
        self.active = not self.stops
        raise libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR, self.words)

    def isActive(self):  # pylint: disable=invalid-name
        return self.active

    def connect(self):
        return FakeConnection()


@pytest.fixture(autouse=True)
def libvirt_call(monkeypatch):
    monkeypatch.setattr(volume, "call", _call)


def _call(action, function, *args):
    try:
        return function(*args)
    except libvirt.libvirtError as exc:
        raise LibvirtCallError(action, exc)


@pytest.mark.parametrize("param, reported", [("pool", "pool"), ("volume.pool", "volume.pool"), (None, "source.name")])
def test_a_refresh_that_stopped_the_pool_says_so(param, reported):
    """(A stopped volume or bricks down: a cause told without asking glusterd.)"""
    handle = PoolHandle(FailingPool("failed to connect to gluster://gl1/vol1/: Input/output error", stops=True),
                        "g", SPEC, pool_type("gluster"))
    with pytest.raises(VirtopsError) as raised:
        refresh_pool(handle, param=param)
    message = raised.value.msg
    assert message.startswith("refreshing pool g failed: gluster volume vol1 on gl1 is stopped"), message
    assert message.endswith("libvirt stopped pool g when its refresh failed: once the cause is repaired, start it "
                            "again (storage_pool with state: active)"), message
    assert raised.value.details["param"] == reported


def test_a_refresh_failure_of_a_pool_still_active_is_the_error_as_it_is():
    handle = PoolHandle(FailingPool("cannot open directory '/p': Permission denied", stops=False), "d",
                        {"type": "dir"}, pool_type("dir"))
    with pytest.raises(LibvirtCallError, match="Permission denied") as raised:
        refresh_pool(handle)
    assert "stopped" not in raised.value.msg
