"""VolumeConverger's resize of an existing volume, over the shared libvirt fake: the backend's rounding is no change."""

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError, UnsafeActionError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES
from ansible_collections.virtops.storage.plugins.module_utils.volume import VolumeConverger

from . import fake_libvirt
from .fake_libvirt import FakeConnection, FakeProbe, FakeVolume, volume_xml

# the module's argument spec defaults (plugins/modules/storage_volume.py)
DEFAULTS = {"pool": "images", "name": "a.img", "state": "present", "capacity": None, "allocation": None,
            "format": None, "preallocation": None, "permissions": None, "compat": None, "lazy_refcounts": None,
            "cluster_size": None, "nocow": None, "backing_store": None, "clone_from": None, "import_from": None,
            "reimport": False, "encryption": None, "allow_shrink": False, "allow_in_use": False, "wipe": False,
            "wipe_algorithm": None, "disk": None, "uri": fake_libvirt.URI}
GIB = 1024 ** 3
DIR_POOL = "<pool type='dir'><name>images</name><target><path>/var/lib/libvirt/images</path></target></pool>"
ISCSI_POOL = ("<pool type='iscsi-direct'><name>images</name><source><host name='san'/>"
              "<device path='iqn.2024-01.com.example:t'/><initiator><iqn name='iqn.2024-01.com.example:i'/>"
              "</initiator></source></pool>")


class NoRecords:
    """ImportRecords stand-in: nothing imported."""

    def read(self, key):
        return None


def _connection(pool_xml=DIR_POOL, capacity=GIB, guests=(), name="a.img"):
    connection = FakeConnection(guests=guests)
    volume = FakeVolume(name, volume_xml(name, capacity))
    connection.conn.add_pool(pool_xml, active=True, volumes=[volume])
    return connection, volume


def _run(connection, check_mode=False, **params):
    module = fake_libvirt.FakeModule(DEFAULTS, check_mode=check_mode, **params)
    return VolumeConverger(module, connection, probe=FakeProbe(), records=NoRecords()).run()


@pytest.mark.parametrize("capacity", [GIB, GIB + 512, GIB - 512])
def test_within_the_rounding_is_no_change(capacity):
    assert POOL_TYPES["dir"].capacity_rounding == 512
    connection, volume = _connection()
    result = _run(connection, capacity=capacity)
    assert result["changed"] is False and result["actions"] == []
    assert not any(entry[0] == "resize" for entry in connection.conn.log)


def test_grow():
    connection, volume = _connection()
    result = _run(connection, capacity=2 * GIB)
    assert result["actions"] == ["grow volume a.img from 1 GiB to 2 GiB (%d -> %d bytes)" % (GIB, 2 * GIB)]
    assert ("resize", 2 * GIB, 0, "a.img") in connection.conn.log
    assert volume.info()[1] == 2 * GIB and result["volume"]["capacity"] == 2 * GIB


def test_grow_check_mode():
    connection, volume = _connection()
    result = _run(connection, check_mode=True, capacity=2 * GIB)
    assert result["changed"] is True and connection.conn.log == [] and volume.info()[1] == GIB


def test_grow_with_full_preallocation_allocates():
    connection, dummy = _connection()
    _run(connection, capacity=2 * GIB, preallocation="full")
    assert ("resize", 2 * GIB, libvirt.VIR_STORAGE_VOL_RESIZE_ALLOCATE, "a.img") in connection.conn.log


@pytest.mark.parametrize("check_mode", [True, False])
def test_shrink_refused_without_allow_shrink(check_mode):
    connection, volume = _connection()
    with pytest.raises(UnsafeActionError) as info:
        _run(connection, check_mode=check_mode, capacity=GIB // 2)
    assert info.value.details["param"] == "allow_shrink" and "destroys the data beyond" in info.value.msg
    assert volume.info()[1] == GIB


def test_shrink_allowed():
    connection, volume = _connection()
    result = _run(connection, capacity=GIB // 2, allow_shrink=True)
    assert result["actions"] == ["shrink volume a.img from 1 GiB to 512 MiB (%d -> %d bytes)" % (GIB, GIB // 2)]
    assert ("resize", GIB // 2, libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK, "a.img") in connection.conn.log


def test_shrink_of_a_volume_a_guest_uses_refused():
    disk = {"type": "file", "source": {"file": "/var/lib/libvirt/images/a.img"}}
    connection, volume = _connection(guests=[("vm1", [disk])])
    with pytest.raises(UnsafeActionError) as info:
        _run(connection, capacity=GIB // 2, allow_shrink=True)
    assert info.value.details["param"] == "allow_in_use" and "vm1" in info.value.msg


def test_resize_unsupported_by_the_pool_type():
    assert POOL_TYPES["iscsi-direct"].capacity_rounding == 512
    connection, volume = _connection(ISCSI_POOL, name="unit:0:0:1")
    lun = "unit:0:0:1"
    assert _run(connection, name=lun, capacity=GIB + 512)["actions"] == []  # a LUN reported a sector short
    with pytest.raises(ParameterError) as info:
        _run(connection, name=lun, capacity=2 * GIB)
    assert info.value.param == "capacity" and "cannot resize volumes" in info.value.msg
