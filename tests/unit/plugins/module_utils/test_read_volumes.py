"""read_volumes: the listed volumes of a pool read (over threads for a big pool); a volume gone since the listing
is left out, any other error is raised. The same for the pools of a scan of them all (read_each_pool)."""

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils.connection import call
from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError
from ansible_collections.virtops.storage.plugins.module_utils.pool import PoolInfoReader
from ansible_collections.virtops.storage.plugins.module_utils.volume import READ_THREADS, read_volumes

from .fake_libvirt import FakeConnection, FakeModule, FakePool, FakeVolume, volume_xml


@pytest.mark.parametrize("count", [3, 4 * READ_THREADS + 1])  # one by one, and over the threads
def test_a_volume_gone_since_the_listing_is_left_out(count):
    volumes = [FakeVolume("v%02d.img" % i, volume_xml("v%02d.img" % i, 2 ** 20)) for i in range(count)]
    volumes[1].fail("XMLDesc", libvirt.VIR_ERR_NO_STORAGE_VOL, "Storage volume not found: no storage vol with "
                    "matching path '/var/lib/libvirt/images/v01.img'")
    names = [spec["name"] for spec, xml in read_volumes(None, volumes)]
    assert names == ["v%02d.img" % i for i in range(count) if i != 1]


def test_another_error_is_raised():
    volumes = [FakeVolume("a.img", volume_xml("a.img", 2 ** 20))]
    volumes[0].fail("XMLDesc", libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: something else")
    with pytest.raises(LibvirtCallError) as info:
        read_volumes(None, volumes)
    assert "reading volume a.img XML failed: internal error: something else" in info.value.msg


DIR_POOL = "<pool type='dir'><name>%s</name><target><path>/srv/%s</path></target></pool>"


@pytest.mark.parametrize("code", [libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_OPERATION_INVALID])
def test_a_pool_undefined_or_stopped_since_the_listing_is_left_out_of_every_scan(code):
    """Another job undefines (or stops) a pool while this one reads them all: the source-conflict check, the
    pool list of storage_pool_info, the secret and volume scans go on without it; another error is raised."""
    pools = [FakePool(DIR_POOL % (name, name), active=True) for name in ("a", "gone", "c")]
    pools[1].fail("XMLDesc", code, "Storage pool not found: no storage pool with matching uuid")
    pools[1].fail("info", code, "Storage pool not found: no storage pool with matching uuid")
    connection = FakeConnection(pools)
    assert list(connection.read_each_pool(lambda pool: call("reading pool %s XML" % pool.name(), pool.XMLDesc, 0)
                                          and pool.name())) == ["a", "c"]
    assert [facts["name"] for facts in PoolInfoReader(FakeModule({}, name=None), connection).run()["pools"]] == ["a", "c"]
    pools[1].fail("XMLDesc", libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: something else")
    with pytest.raises(LibvirtCallError, match="something else"):
        list(connection.read_each_pool(lambda pool: call("reading pool XML", pool.XMLDesc, 0)))
