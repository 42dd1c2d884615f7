"""A creation that fails because the volume appeared meanwhile (another host of a shared pool made it) says so;
any other creation failure is reported as it is."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import volume
from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError, VirtopsError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import pool_type
from ansible_collections.virtops.storage.plugins.module_utils.volume import PoolHandle, VolumeConverger

from .fake_libvirt import libvirt_error

ERROR = volume.libvirt.VIR_ERR_INTERNAL_ERROR


class SharedPool:
    """A pool whose storage another host writes to: ``made_elsewhere`` appears at the next refresh."""

    def __init__(self, made_elsewhere, refresh_fails=False):
        self.made_elsewhere = made_elsewhere
        self.refresh_fails = refresh_fails
        self.refreshed = 0

    def refresh(self, flags):
        self.refreshed += 1
        if self.refresh_fails:
            raise LibvirtCallError("refreshing pool", libvirt_error(ERROR, "cannot connect to the monitors"))

    def isActive(self):  # pylint: disable=invalid-name
        return True

    def storageVolLookupByName(self, name):  # pylint: disable=invalid-name
        if self.made_elsewhere and self.refreshed:
            return "volume"
        raise FakeNoVolume()


class FakeNoVolume(volume.libvirt.libvirtError):
    def __init__(self):  # pylint: disable=super-init-not-called
        pass

    def get_error_code(self):
        return volume.libvirt.VIR_ERR_NO_STORAGE_VOL


@pytest.fixture(autouse=True)
def direct_call(monkeypatch):
    monkeypatch.setattr(volume, "call", lambda action, function, *args: function(*args))


def converger(pool):
    self = VolumeConverger.__new__(VolumeConverger)
    self.name = "web-data"
    self.volume = None
    self.handle = PoolHandle(pool, "ceph", {}, pool_type("dir"))  # a type whose errors need no explaining
    return self


def refused():
    raise LibvirtCallError("creating volume web-data in pool ceph",
                           libvirt_error(ERROR, "failed to create volume 'rbd/web-data': File exists"))


def test_a_volume_made_meanwhile_by_another_host_is_named_as_such():
    pool = SharedPool(made_elsewhere=True)
    with pytest.raises(VirtopsError) as raised:
        converger(pool)._explaining_a_lost_race(refused)()
    message = raised.value.msg
    assert message.startswith("volume web-data appeared in pool ceph while this task was creating it"), message
    assert "File exists" in message and "run_once" in message and "Run the task again" in message


@pytest.mark.parametrize("pool", [SharedPool(made_elsewhere=False), SharedPool(made_elsewhere=True, refresh_fails=True)],
                         ids=["not there after all", "the pool cannot be read again"])
def test_other_creation_failures_are_reported_as_they_are(pool):
    with pytest.raises(VirtopsError, match="File exists") as raised:
        converger(pool)._explaining_a_lost_race(refused)()
    assert "appeared" not in raised.value.msg


def test_a_volume_this_task_made_is_never_taken_for_another_hosts():
    """A failure after the creation (an import's copy) is this task's own: no second look at the pool."""
    pool = SharedPool(made_elsewhere=True)
    self = converger(pool)
    self.volume = "volume"
    with pytest.raises(VirtopsError, match="File exists"):
        self._explaining_a_lost_race(refused)()
    assert pool.refreshed == 0
