"""Guest <disk> of a volume for every pool type, checked against libvirt's domain schema; disks of a domain."""

import copy
import glob
import os

import pytest
from lxml import etree

from ansible_collections.virtops.storage.plugins.module_utils import disk_xml
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import (
    build_disk_element, build_disk_xml, check_disk_options, disk_uses, domain_disks, guest_disk, lun_of,
    network_source, parse_disk_element, volume_references)
from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES, pool_type
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import build_pool_xml, parse_pool_xml
from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import build_volume_xml, parse_volume_xml

from ...conftest import CORPUS

DISK_CORPUS = os.path.join(CORPUS, "disk")

CHAP_UUID = "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87"
CEPH_UUID = "c3f2e6a0-6f5b-4c5e-9d1a-4b1f0c6a8e21"
LUKS_UUID = "f52a81b2-424e-490c-823d-6bd4235bc572"
IQN1 = "iqn.2024-01.org.example:target1"
IQN2 = "iqn.2024-01.org.example:target2"
HOST_IQN = "iqn.2024-01.org.example:host1"
IMAGES = "/var/lib/libvirt/images/"

RAW = {"name": "qemu", "type": "raw"}
# what QEMU needs for a host block device by default: no host page cache, native AIO
RAW_BLOCK = {"name": "qemu", "type": "raw", "cache": "none", "io": "native"}
VDB = {"dev": "vdb", "bus": "virtio"}


def _disk(disk_type, source, driver, **extra):
    result = {"type": disk_type, "device": "disk", "driver": driver, "source": source, "target": VDB}
    result.update(extra)
    return result


# pool type -> (pool spec as parse_pool_xml gives it, volume spec as parse_volume_xml gives it, expected disk)
CASES = {
    "dir": (
        {"type": "dir", "name": "images", "target": {"path": "/var/lib/libvirt/images"}},
        {"name": "vm1.qcow2", "type": "file", "key": IMAGES + "vm1.qcow2", "capacity": 10737418240,
         "allocation": 196608, "path": IMAGES + "vm1.qcow2", "format": "qcow2"},
        _disk("file", {"file": IMAGES + "vm1.qcow2"}, {"name": "qemu", "type": "qcow2"})),
    "fs": (
        {"type": "fs", "name": "fsimages", "source": {"devices": [{"path": "/dev/sdc1"}], "format": "ext4"},
         "target": {"path": "/srv/fsimages"}},
        {"name": "data.img", "type": "file", "key": "/srv/fsimages/data.img", "capacity": 1073741824,
         "path": "/srv/fsimages/data.img", "format": "raw"},
        _disk("file", {"file": "/srv/fsimages/data.img"}, RAW)),
    "netfs": (
        {"type": "netfs", "name": "nfsimages",
         "source": {"hosts": [{"name": "nfs1.example.org"}], "dir": "/export/images", "format": "nfs"},
         "target": {"path": "/mnt/nfsimages"}},
        {"name": "install.iso", "type": "file", "key": "/mnt/nfsimages/install.iso", "capacity": 3654957056,
         "path": "/mnt/nfsimages/install.iso", "format": "iso"},
        _disk("file", {"file": "/mnt/nfsimages/install.iso"}, RAW)),
    "vstorage": (
        {"type": "vstorage", "name": "vz", "source": {"name": "cluster1"}, "target": {"path": "/mnt/vstorage"}},
        {"name": "disk0", "type": "file", "key": "/mnt/vstorage/disk0", "capacity": 1073741824,
         "path": "/mnt/vstorage/disk0"},  # no format: QEMU opens it raw
        _disk("file", {"file": "/mnt/vstorage/disk0"}, RAW)),
    "logical": (
        {"type": "logical", "name": "vg0",
         "source": {"devices": [{"path": "/dev/sdb"}], "name": "vg0", "format": "lvm2"},
         "target": {"path": "/dev/vg0"}},
        {"name": "lv1", "type": "block", "key": "r4xkCv-MQhr-WKIT-R66x-Epn2-e8hG-1Z5gY0", "capacity": 4194304,
         "allocation": 4194304, "path": "/dev/vg0/lv1",
         "devices": [{"path": "/dev/sdb", "extents": [{"start": 0, "end": 4194304}]}]},
        _disk("block", {"dev": "/dev/vg0/lv1"}, RAW_BLOCK)),
    "disk": (
        {"type": "disk", "name": "sdd", "source": {"devices": [{"path": "/dev/sdd"}], "format": "gpt"},
         "target": {"path": "/dev"}},
        {"name": "sdd1", "type": "block", "key": "/dev/sdd1", "capacity": 1073741824, "path": "/dev/sdd1",
         "format": "linux"},
        _disk("block", {"dev": "/dev/sdd1"}, RAW_BLOCK)),
    "iscsi": (
        {"type": "iscsi", "name": "san1",
         "source": {"hosts": [{"name": "192.0.2.10", "port": 3260}], "devices": [{"path": IQN1}],
                    "initiator_iqn": HOST_IQN,
                    "auth": {"type": "chap", "username": "chapuser", "secret_usage": "libvirtiscsi"}},
         "target": {"path": "/dev/disk/by-path"}},
        {"name": "unit:0:0:1", "type": "block", "key": "36001405f1b1e5b6c4e54a7c9c3d1e2f0",
         "capacity": 10737418240, "path": "/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-%s-lun-1" % IQN1},
        _disk("block", {"dev": "/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-%s-lun-1" % IQN1}, RAW_BLOCK)),
    "iscsi-direct": (
        {"type": "iscsi-direct", "name": "san2",
         "source": {"hosts": [{"name": "192.0.2.11", "port": 3260}], "devices": [{"path": IQN2}],
                    "initiator_iqn": HOST_IQN,
                    "auth": {"type": "chap", "username": "chapuser", "secret_uuid": CHAP_UUID}}},
        # libvirt's iscsi-direct backend names LUN 3 'unit:0:0:3'; its path is not a host path
        {"name": "unit:0:0:3", "type": "network", "key": "ip-192.0.2.11:3260-iscsi-%s-lun-3" % IQN2,
         "capacity": 10737418240, "path": "ip-192.0.2.11:3260-iscsi-%s-lun-3" % IQN2},
        _disk("network", {"protocol": "iscsi", "name": IQN2 + "/3", "hosts": [{"name": "192.0.2.11", "port": 3260}],
                          "initiator_iqn": HOST_IQN,
                          "auth": {"username": "chapuser", "secret": {"type": "iscsi", "uuid": CHAP_UUID}}}, RAW)),
    "scsi": (
        {"type": "scsi", "name": "hba0", "source": {"adapter": {"type": "scsi_host", "name": "host0"}},
         "target": {"path": "/dev/disk/by-path"}},
        {"name": "unit:0:0:0", "type": "block", "key": "35000c50015ea71ac", "capacity": 146815733760,
         "path": "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0"},
        _disk("block", {"dev": "/dev/disk/by-path/pci-0000:00:1f.2-scsi-0:0:0:0"}, RAW_BLOCK)),
    "mpath": (
        {"type": "mpath", "name": "mpath", "target": {"path": "/dev/mapper"}},
        {"name": "dm-0", "type": "block", "key": "/dev/mapper/mpatha", "capacity": 107374182400,
         "path": "/dev/mapper/mpatha"},
        _disk("block", {"dev": "/dev/mapper/mpatha"}, RAW_BLOCK)),
    "zfs": (
        {"type": "zfs", "name": "tank", "source": {"name": "tank"}, "target": {"path": "/dev/zvol/tank"}},
        {"name": "vol1", "type": "block", "key": "/dev/zvol/tank/vol1", "capacity": 1073741824,
         "path": "/dev/zvol/tank/vol1"},
        _disk("block", {"dev": "/dev/zvol/tank/vol1"}, RAW_BLOCK)),
    "rbd": (
        {"type": "rbd", "name": "ceph",
         "source": {"hosts": [{"name": "mon1.example.org", "port": 6789}, {"name": "mon2.example.org", "port": 6789},
                              {"name": "192.0.2.30", "port": 3300}],
                    "name": "rbdpool", "auth": {"type": "ceph", "username": "libvirt", "secret_uuid": CEPH_UUID}}},
        {"name": "vm1-disk0", "type": "network", "key": "rbdpool/vm1-disk0", "capacity": 10737418240,
         "path": "rbdpool/vm1-disk0", "format": "raw"},
        _disk("network", {"protocol": "rbd", "name": "rbdpool/vm1-disk0",
                          "hosts": [{"name": "mon1.example.org", "port": 6789}, {"name": "mon2.example.org", "port": 6789},
                                    {"name": "192.0.2.30", "port": 3300}],
                          "auth": {"username": "libvirt", "secret": {"type": "ceph", "uuid": CEPH_UUID}}}, RAW)),
    "gluster": (
        {"type": "gluster", "name": "gv0",
         "source": {"hosts": [{"name": "gluster1.example.org", "port": 24007}], "dir": "/vms", "name": "gv0"}},
        {"name": "vm1.qcow2", "type": "network", "key": "gv0/vms/vm1.qcow2", "capacity": 10737418240,
         "path": "gluster://gluster1.example.org/gv0/vms/vm1.qcow2", "format": "qcow2"},
        _disk("network", {"protocol": "gluster", "name": "gv0/vms/vm1.qcow2",
                          "hosts": [{"name": "gluster1.example.org", "port": 24007}]},
              {"name": "qemu", "type": "qcow2"})),  # gluster images are files: QEMU opens their format
}
TYPES = sorted(CASES)
FILE_TYPES = sorted(name for name in CASES if POOL_TYPES[name].disk_type == "file")
BLOCK_TYPES = sorted(name for name in CASES if POOL_TYPES[name].disk_type == "block")


def case(type_name, **volume_changes):
    """(row, pool, volume) of a pool type's case, the volume changed as given (None removes a key)."""
    pool, volume, _expected = CASES[type_name]
    volume = copy.deepcopy(volume)
    for key, value in volume_changes.items():
        if value is None:
            volume.pop(key, None)
        else:
            volume[key] = value
    return pool_type(type_name), copy.deepcopy(pool), volume


def valid(disk_schema, disk):
    """Build the disk's XML, validate it against libvirt's domain schema, and check it parses back."""
    element = build_disk_element(disk)
    assert disk_schema.validate(element), "%s\n%s" % (disk_schema.error_log, etree.tostring(element).decode())
    assert parse_disk_element(element) == disk
    return element


def canonical(xml):
    """A comparable form of disk XML: no whitespace, quote style or attribute order, children in any order."""
    element = etree.fromstring(xml) if isinstance(xml, str) else xml
    return _canonical(element)


def _canonical(element):
    children = tuple(sorted(_canonical(child) for child in element if isinstance(child.tag, str)))
    return (element.tag, tuple(sorted(element.attrib.items())), (element.text or "").strip(), children)


# ---------------------------------------------------------------- every pool type

def test_every_pool_type_has_a_case():
    assert set(CASES) == set(POOL_TYPES)


@pytest.mark.parametrize("name", TYPES)
def test_case_specs_are_what_the_parsers_give(name, pool_schema, volume_schema):
    """The pool and volume specs of the table are realistic: valid libvirt XML that parses back to them."""
    pool, volume, _expected = CASES[name]
    pool_xml = build_pool_xml(pool)
    assert pool_schema.validate(etree.fromstring(pool_xml)), pool_schema.error_log
    assert parse_pool_xml(pool_xml) == pool
    volume_xml = build_volume_xml(volume)
    assert volume_schema.validate(etree.fromstring(volume_xml)), volume_schema.error_log
    assert parse_volume_xml(volume_xml) == volume


@pytest.mark.parametrize("name", TYPES)
def test_guest_disk_of_every_pool_type(name, disk_schema):
    row, pool, volume = case(name)
    disk = guest_disk(row, pool, volume)
    assert disk == CASES[name][2]
    valid(disk_schema, disk)


@pytest.mark.parametrize("name", TYPES)
def test_guest_disk_type_follows_the_table(name):
    row, pool, volume = case(name)
    disk = guest_disk(row, pool, volume)
    assert disk["type"] == row.disk_type
    assert set(disk["source"]) & {"file", "dev", "protocol"} == {
        "file": {"file"}, "block": {"dev"}, "network": {"protocol"}}[row.disk_type]
    if row.disk_type == "network":
        assert disk["source"]["protocol"] == row.disk_protocol


EXACT_XML = [
    ("dir-qcow2", "dir", {}, {},
     "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
     "<source file='/var/lib/libvirt/images/vm1.qcow2'/><target dev='vdb' bus='virtio'/></disk>"),
    ("logical", "logical", {}, {},
     "<disk type='block' device='disk'><driver name='qemu' type='raw' cache='none' io='native'/>"
     "<source dev='/dev/vg0/lv1'/><target dev='vdb' bus='virtio'/></disk>"),
    ("rbd", "rbd", {}, {},
     "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
     "<source protocol='rbd' name='rbdpool/vm1-disk0'><host name='mon1.example.org' port='6789'/>"
     "<host name='mon2.example.org' port='6789'/><host name='192.0.2.30' port='3300'/>"
     "<auth username='libvirt'><secret type='ceph' uuid='%s'/></auth></source>"
     "<target dev='vdb' bus='virtio'/></disk>" % CEPH_UUID),
    ("gluster", "gluster", {}, {},
     "<disk type='network' device='disk'><driver name='qemu' type='qcow2'/>"
     "<source protocol='gluster' name='gv0/vms/vm1.qcow2'><host name='gluster1.example.org' port='24007'/></source>"
     "<target dev='vdb' bus='virtio'/></disk>"),
    ("iscsi-direct", "iscsi-direct", {}, {},
     "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
     "<source protocol='iscsi' name='%s/3'><host name='192.0.2.11' port='3260'/>"
     "<auth username='chapuser'><secret type='iscsi' uuid='%s'/></auth>"
     "<initiator><iqn name='%s'/></initiator></source>"
     "<target dev='vdb' bus='virtio'/></disk>" % (IQN2, CHAP_UUID, HOST_IQN)),
    ("iscsi-mode-direct-lun", "iscsi", {"mode": "direct", "device": "lun", "bus": "scsi"}, {},
     "<disk type='network' device='lun'><driver name='qemu' type='raw'/>"
     "<source protocol='iscsi' name='%s/1'><host name='192.0.2.10' port='3260'/>"
     "<auth username='chapuser'><secret type='iscsi' usage='libvirtiscsi'/></auth>"
     "<initiator><iqn name='%s'/></initiator></source>"
     "<target dev='sdb' bus='scsi'/></disk>" % (IQN1, HOST_IQN)),
    ("iscsi-volume-direct", "iscsi", {"source": "volume", "mode": "direct"}, {},
     "<disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
     "<source pool='san1' volume='unit:0:0:1' mode='direct'/><target dev='vdb' bus='virtio'/></disk>"),
    ("dir-volume", "dir", {"source": "volume"}, {},
     "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
     "<source pool='images' volume='vm1.qcow2'/><target dev='vdb' bus='virtio'/></disk>"),
    ("dir-luks", "dir", {}, {"format": "raw", "encryption": {
        "format": "luks", "secret": {"uuid": LUKS_UUID},
        "cipher": {"name": "aes", "size": 256, "mode": "xts", "hash": "sha256"},
        "ivgen": {"name": "plain64", "hash": "sha256"}}},
     "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
     "<source file='/var/lib/libvirt/images/vm1.qcow2'><encryption format='luks'>"
     "<secret type='passphrase' uuid='%s'/></encryption></source>"
     "<target dev='vdb' bus='virtio'/></disk>" % LUKS_UUID),
    ("logical-readonly-shareable-serial", "logical",
     {"readonly": True, "shareable": True, "serial": "lv1-serial", "bus": "scsi"}, {},
     "<disk type='block' device='disk'><driver name='qemu' type='raw' cache='none' io='native'/>"
     "<source dev='/dev/vg0/lv1'/><target dev='sdb' bus='scsi'/><readonly/><shareable/>"
     "<serial>lv1-serial</serial></disk>"),
    ("logical-writeback", "logical", {"cache": "writeback", "discard": "unmap", "detect_zeroes": "unmap"}, {},
     "<disk type='block' device='disk'>"
     "<driver name='qemu' type='raw' cache='writeback' discard='unmap' detect_zeroes='unmap'/>"
     "<source dev='/dev/vg0/lv1'/><target dev='vdb' bus='virtio'/></disk>"),
]


@pytest.mark.parametrize("name, options, volume_changes, expected", [c[1:] for c in EXACT_XML],
                         ids=[c[0] for c in EXACT_XML])
def test_guest_disk_exact_xml(name, options, volume_changes, expected, disk_schema):
    row, pool, volume = case(name, **volume_changes)
    disk = guest_disk(row, pool, volume, options)
    valid(disk_schema, disk)
    assert canonical(build_disk_xml(disk)) == canonical(expected)


# ---------------------------------------------------------------- file pools

@pytest.mark.parametrize("volume_format, driver_type", [
    ("qcow2", "qcow2"), ("raw", "raw"), ("iso", "raw"), ("none", "raw"), (None, "raw"), ("vmdk", "vmdk"),
    ("vdi", "vdi"), ("qed", "qed")])
@pytest.mark.parametrize("name", FILE_TYPES)
def test_file_pool_driver_type_is_the_volume_format(name, volume_format, driver_type, disk_schema):
    disk = guest_disk(*case(name, format=volume_format))
    assert disk["driver"] == {"name": "qemu", "type": driver_type}
    assert disk["type"] == "file" and set(disk["source"]) == {"file"}
    valid(disk_schema, disk)


@pytest.mark.parametrize("volume_type", ["dir", "netdir"])
@pytest.mark.parametrize("name", ["dir", "netfs", "gluster"])
def test_directories_are_not_disks(name, volume_type):
    assert guest_disk(*case(name, type=volume_type, format="dir")) is None


# ---------------------------------------------------------------- block pools: cache and io

@pytest.mark.parametrize("options, driver", [
    ({}, RAW_BLOCK),
    ({"cache": "none"}, RAW_BLOCK),
    ({"cache": "directsync"}, dict(RAW, cache="directsync", io="native")),
    ({"cache": "writeback"}, dict(RAW, cache="writeback")),  # native AIO needs O_DIRECT: io dropped
    ({"cache": "writethrough"}, dict(RAW, cache="writethrough")),
    ({"io": "threads"}, dict(RAW, cache="none", io="threads")),
    ({"cache": "unsafe", "io": "io_uring"}, dict(RAW, cache="unsafe", io="io_uring")),
], ids=["default", "none", "directsync", "writeback", "writethrough", "threads", "unsafe-io_uring"])
@pytest.mark.parametrize("name", BLOCK_TYPES)
def test_block_pool_cache_and_io(name, options, driver, disk_schema):
    disk = guest_disk(*case(name), options=options)
    assert disk["driver"] == driver
    valid(disk_schema, disk)


@pytest.mark.parametrize("name", FILE_TYPES + ["rbd", "gluster", "iscsi-direct"])
def test_no_cache_default_beyond_host_block_devices(name):
    assert set(guest_disk(*case(name))["driver"]) == {"name", "type"}


@pytest.mark.parametrize("cache", ["writeback", "writethrough", "unsafe"])
def test_io_native_refused_without_direct_cache(cache):
    with pytest.raises(ParameterError, match="disk.io"):
        guest_disk(*case("logical"), options={"cache": cache, "io": "native"})


# ---------------------------------------------------------------- network pools

def test_rbd_every_host_with_its_port():
    disk = guest_disk(*case("rbd"))
    assert disk["source"]["hosts"] == CASES["rbd"][0]["source"]["hosts"]
    assert all("port" in host for host in disk["source"]["hosts"])


@pytest.mark.parametrize("source_dir, name", [
    (None, "gv0/vm1.qcow2"), ("/", "gv0/vm1.qcow2"), ("/vms", "gv0/vms/vm1.qcow2"),
    ("/vms/", "gv0/vms/vm1.qcow2"), ("//a//b", "gv0/a/b/vm1.qcow2")])
def test_gluster_name_is_volume_dir_image(source_dir, name, disk_schema):
    row, pool, volume = case("gluster")
    pool["source"].pop("dir")
    if source_dir is not None:
        pool["source"]["dir"] = source_dir
    disk = guest_disk(row, pool, volume)
    assert disk["source"]["name"] == name
    valid(disk_schema, disk)


def test_gluster_source_name_defaults_to_the_pool_name():
    """libvirt names a gluster pool's source volume after the pool when the source has no name."""
    row, pool, volume = case("gluster")
    del pool["source"]["name"]
    assert guest_disk(row, pool, volume)["source"]["name"] == "gv0/vms/vm1.qcow2"


@pytest.mark.parametrize("volume_name, lun", [("unit:0:0:3", 3), ("unit:0:0:0", 0), ("unit:1:2:17", 17), ("5", 5)])
def test_iscsi_direct_lun_from_the_volume_name(volume_name, lun):
    assert lun_of(volume_name) == lun
    disk = guest_disk(*case("iscsi-direct", name=volume_name))
    assert disk["source"]["name"] == "%s/%d" % (IQN2, lun)


@pytest.mark.parametrize("volume_name", ["lun3", "unit:0:0:", "unit:0:0:x", "", "3a"])
def test_iscsi_direct_refuses_a_volume_that_is_no_lun(volume_name):
    with pytest.raises(ParameterError, match="^name: volume .* is not an iSCSI LUN"):
        guest_disk(*case("iscsi-direct", name=volume_name))


def test_iscsi_auth_with_secret_usage():
    source = network_source(*case("iscsi"))
    assert source["auth"] == {"username": "chapuser", "secret": {"type": "iscsi", "usage": "libvirtiscsi"}}
    assert source["initiator_iqn"] == HOST_IQN


def test_network_source_without_auth_or_initiator(disk_schema):
    row, pool, volume = case("iscsi-direct")
    del pool["source"]["auth"]
    del pool["source"]["initiator_iqn"]  # libvirt then uses its own initiator name
    disk = guest_disk(row, pool, volume)
    assert set(disk["source"]) == {"protocol", "name", "hosts"}
    valid(disk_schema, disk)


# ---------------------------------------------------------------- iscsi mode

@pytest.mark.parametrize("mode, disk_type", [(None, "block"), ("host", "block"), ("direct", "network")])
def test_iscsi_mode(mode, disk_type, disk_schema):
    disk = guest_disk(*case("iscsi"), options={"mode": mode})
    assert disk["type"] == disk_type
    if mode == "direct":
        assert disk["source"]["protocol"] == "iscsi"
        assert disk["source"]["name"] == IQN1 + "/1"
        assert disk["source"]["hosts"] == [{"name": "192.0.2.10", "port": 3260}]
        assert disk["driver"] == RAW  # QEMU's own initiator: no host block device to tune
    else:
        assert disk["source"] == {"dev": CASES["iscsi"][1]["path"]}
    valid(disk_schema, disk)


@pytest.mark.parametrize("name", sorted(set(TYPES) - {"iscsi"}))
@pytest.mark.parametrize("mode", ["host", "direct"])
def test_mode_refused_beyond_iscsi(name, mode):
    with pytest.raises(ParameterError, match="disk.mode"):
        guest_disk(*case(name), options={"mode": mode})


# ---------------------------------------------------------------- source: volume

VOLUME_DISK_TYPES = sorted(name for name in TYPES if POOL_TYPES[name].volume_disk)


def test_volume_disks_refused_for_rbd_gluster_mpath():
    """libvirt's virDomainDiskTranslateSourcePool does not support these pools' volumes as type='volume'."""
    assert set(TYPES) - set(VOLUME_DISK_TYPES) == {"rbd", "gluster", "mpath"}


@pytest.mark.parametrize("name", VOLUME_DISK_TYPES)
def test_source_volume(name, disk_schema):
    row, pool, volume = case(name)
    disk = guest_disk(row, pool, volume, {"source": "volume"})
    assert disk["type"] == "volume"
    assert disk["source"] == {"pool": pool["name"], "volume": volume["name"]}
    assert disk["driver"] == guest_disk(row, pool, volume)["driver"]
    valid(disk_schema, disk)


@pytest.mark.parametrize("mode", ["host", "direct"])
def test_source_volume_of_iscsi_keeps_the_mode(mode, disk_schema):
    disk = guest_disk(*case("iscsi"), options={"source": "volume", "mode": mode})
    assert disk["source"] == {"pool": "san1", "volume": "unit:0:0:1", "mode": mode}
    valid(disk_schema, disk)


@pytest.mark.parametrize("name", ["rbd", "gluster", "mpath"])
def test_source_volume_refused(name):
    with pytest.raises(ParameterError, match="disk.source"):
        guest_disk(*case(name), options={"source": "volume"})


# ---------------------------------------------------------------- device lun

LUN_TYPES = sorted(name for name in TYPES if POOL_TYPES[name].disk_type == "block") + ["iscsi-direct"]


@pytest.mark.parametrize("name", LUN_TYPES)
def test_device_lun(name, disk_schema):
    disk = guest_disk(*case(name), options={"device": "lun", "bus": "scsi"})
    assert disk["device"] == "lun"
    assert disk["target"] == {"dev": "sdb", "bus": "scsi"}
    valid(disk_schema, disk)


@pytest.mark.parametrize("name", LUN_TYPES)
@pytest.mark.parametrize("bus", ["virtio", "sata", "ide", "usb"])
def test_device_lun_needs_bus_scsi(name, bus):
    with pytest.raises(ParameterError, match="disk.device.*bus: scsi"):
        guest_disk(*case(name), options={"device": "lun", "bus": bus})


@pytest.mark.parametrize("name, what", [(name, "files") for name in FILE_TYPES] + [
    ("rbd", "rbd images"), ("gluster", "gluster images")])
def test_device_lun_refused_for_files_and_non_iscsi_network(name, what):
    """libvirt (virDomainDiskDefSourceLUNValidate): a local block device or an iSCSI network disk only."""
    with pytest.raises(ParameterError, match="disk.device.*are %s" % what):
        guest_disk(*case(name), options={"device": "lun", "bus": "scsi"})


# ---------------------------------------------------------------- encryption, flags, target

@pytest.mark.parametrize("secret", [{"uuid": LUKS_UUID}, {"usage": "/var/lib/libvirt/images/vm1.qcow2"}],
                         ids=["uuid", "usage"])
@pytest.mark.parametrize("name", FILE_TYPES)
def test_luks_volume_encryption_inside_source(name, secret, disk_schema):
    encryption = {"format": "luks", "secret": secret, "cipher": {"name": "aes", "size": 256},
                  "ivgen": {"name": "plain64"}}
    disk = guest_disk(*case(name, encryption=encryption))
    assert disk["source"]["encryption"] == {"format": "luks", "secret": secret}  # no cipher: it is in the header
    element = valid(disk_schema, disk)
    secret_node = element.find("source/encryption[@format='luks']/secret")
    assert secret_node is not None and secret_node.get("type") == "passphrase"
    assert element.find("encryption") is None


def test_qcow2_luks_volume_keeps_its_format(disk_schema):
    disk = guest_disk(*case("dir", encryption={"format": "luks", "secret": {"uuid": LUKS_UUID}}))
    assert disk["driver"]["type"] == "qcow2"
    assert disk["source"]["encryption"]["format"] == "luks"
    valid(disk_schema, disk)


@pytest.mark.parametrize("name", TYPES)
def test_readonly_shareable_serial(name, disk_schema):
    disk = guest_disk(*case(name), options={"readonly": True, "shareable": True, "serial": "S-0001"})
    assert (disk["readonly"], disk["shareable"], disk["serial"]) == (True, True, "S-0001")
    element = valid(disk_schema, disk)
    assert element.find("readonly") is not None and element.find("shareable") is not None
    assert element.findtext("serial") == "S-0001"


def test_flags_absent_by_default():
    disk = guest_disk(*case("dir"))
    assert not {"readonly", "shareable", "serial"} & set(disk)


@pytest.mark.parametrize("bus, dev", [("virtio", "vdb"), ("scsi", "sdb"), ("sata", "sdb"), ("usb", "sdb"),
                                      ("ide", "hdb")])
def test_default_target_dev_by_bus(bus, dev, disk_schema):
    disk = guest_disk(*case("dir"), options={"bus": bus})
    assert disk["target"] == {"dev": dev, "bus": bus}
    valid(disk_schema, disk)


def test_explicit_target_dev():
    assert guest_disk(*case("dir"), options={"dev": "vdq"})["target"] == {"dev": "vdq", "bus": "virtio"}


@pytest.mark.parametrize("device", ["cdrom", "disk"])
def test_device_kind(device, disk_schema):
    disk = guest_disk(*case("netfs"), options={"device": device, "bus": "sata", "readonly": True})
    assert disk["device"] == device
    valid(disk_schema, disk)


# ---------------------------------------------------------------- the validator can fail

@pytest.mark.parametrize("xml", [
    "<disk type='file' device='disk'><source file='/a.img'/></disk>",
    "<disk type='file' device='lun'><source file='/a.img'/><target dev='sdb' bus='scsi'/></disk>",
    "<disk type='network' device='disk'><source name='x'><host name='h'/></source>"
    "<target dev='vdb' bus='virtio'/></disk>",
    "<disk type='block' device='disk'><source dev='/dev/x'/><target dev='vdb' bus='pcie'/></disk>",
    "<disk type='network' device='disk'><source protocol='rbd' name='p/i'><auth username='u'>"
    "<secret type='passphrase' uuid='%s'/></auth></source><target dev='vdb' bus='virtio'/></disk>" % CEPH_UUID,
    "<disk type='block' device='disk'><driver name='qemu' type='raw' cache='sometimes'/><source dev='/dev/x'/>"
    "<target dev='vdb' bus='virtio'/></disk>",
    "<disk type='volume' device='disk'><source pool='p' volume='v' mode='sideways'/>"
    "<target dev='vdb' bus='virtio'/></disk>",
], ids=["no-target", "file-lun", "no-protocol", "bad-bus", "auth-passphrase", "bad-cache", "bad-mode"])
def test_schema_rejects_broken_disks(xml, disk_schema):
    assert not disk_schema.validate(etree.fromstring(xml))


def test_schema_rejects_a_built_disk_without_its_target(disk_schema):
    element = build_disk_element(guest_disk(*case("logical")))
    assert disk_schema.validate(element)
    element.remove(element.find("target"))
    assert not disk_schema.validate(element)


# ---------------------------------------------------------------- the disk corpus

# libvirt refuses these disks when it parses the domain (DO_TEST_CAPS_LATEST_PARSE_ERROR): not round-tripped
LIBVIRT_REFUSES = {
    "disk-network-iscsi-auth-secrettype-invalid": "an auth secret without a type",
    "disk-network-iscsi-auth-wrong-secrettype": "a ceph secret for an iscsi disk",
    "disk-network-source-auth-both": "auth both in and outside <source>",
    "disk-shared-qcow": "a shareable qcow2 disk",
}
# What build_disk_element writes: element -> (attributes, child elements). A disk with anything else (a backing
# chain, a host socket, cookies, a geometry...) is parsed, but not expected to round-trip.
BUILDER_COVERS = {
    "disk": ({"type", "device"}, {"driver", "source", "target", "readonly", "shareable", "serial", "auth",
                                  "encryption"}),
    "driver": ({"name", "type", "cache", "io", "discard", "detect_zeroes"}, set()),
    "source": ({"file", "dev", "pool", "volume", "mode", "protocol", "name"}, {"host", "auth", "encryption",
                                                                               "initiator"}),
    "host": ({"name", "port"}, set()),
    "auth": ({"username"}, {"secret"}),
    "encryption": ({"format"}, {"secret"}),
    "secret": ({"type", "uuid", "usage"}, set()),
    "initiator": (set(), {"iqn"}),
    "iqn": ({"name"}, set()),
    "target": ({"dev", "bus"}, set()),
    "readonly": (set(), set()), "shareable": (set(), set()), "serial": (set(), set()),
}


# The guest's device address is placement, not storage: a disk dict leaves it to libvirt, the comparison ignores it.
PLACEMENT = "address"


def _covered(element):
    attributes, children = BUILDER_COVERS.get(element.tag, (None, None))
    if attributes is None or not set(element.attrib) <= attributes:
        return False
    return all(child.tag in children and _covered(child) for child in element
               if isinstance(child.tag, str) and child.tag != PLACEMENT)


def _corpus_disks():
    """(file name, index, <disk> element) of every disk in the corpus."""
    result = []
    for path in sorted(glob.glob(os.path.join(DISK_CORPUS, "*.xml"))):
        name = os.path.basename(path)[:-4]
        result.extend((name, index, disk) for index, disk in enumerate(etree.parse(path).getroot().findall("devices/disk")))
    return result


def _params(disks):
    return [pytest.param(disk, id="%s#%d" % (name, index)) for name, index, disk in disks]


CORPUS_DISKS = _corpus_disks()
# a disk the builder can write: every field covered, a source and a target, and one libvirt accepts
ROUND_TRIP = [(name, index, disk) for name, index, disk in CORPUS_DISKS
              if name not in LIBVIRT_REFUSES and _covered(disk)
              and disk.find("source") is not None and disk.find("target") is not None]


def test_disk_corpus_selection():
    """Every corpus file holds disks; a good share of them is fully covered by the builder."""
    files = glob.glob(os.path.join(DISK_CORPUS, "*.xml"))
    assert len(files) == 54
    assert len(CORPUS_DISKS) > len(files)
    assert (len(CORPUS_DISKS), len(ROUND_TRIP)) == (152, 81)
    types = set(disk.get("type") or "file" for _name, _index, disk in ROUND_TRIP)
    assert types == {"file", "block", "network", "volume"}


@pytest.mark.parametrize("element", _params(CORPUS_DISKS))
def test_every_corpus_disk_parses(element):
    disk = parse_disk_element(element)
    assert disk["type"] == (element.get("type") or "file")
    assert disk["device"] == (element.get("device") or "disk")
    if element.find("target") is not None:
        assert disk["target"]["dev"] == element.find("target").get("dev")


@pytest.mark.parametrize("name", sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(DISK_CORPUS, "*.xml"))))
def test_domain_disks_of_every_corpus_domain(name):
    with open(os.path.join(DISK_CORPUS, name + ".xml"), "rb") as handle:
        xml = handle.read()
    disks = domain_disks(xml)
    elements = etree.fromstring(xml).findall("devices/disk")
    assert len(disks) == len(elements) > 0
    assert [d.get("target", {}).get("dev") for d in disks] == [
        e.find("target").get("dev") if e.find("target") is not None else None for e in elements]


@pytest.mark.parametrize("element", _params(ROUND_TRIP))
def test_covered_corpus_disk_round_trips(element, disk_schema):
    disk = parse_disk_element(element)
    rebuilt = build_disk_element(disk)
    assert parse_disk_element(rebuilt) == disk
    # and nothing is lost: the same XML, with a legacy <auth>/<encryption> moved into <source> where it belongs
    original = copy.deepcopy(element)
    original.set("type", element.get("type") or "file")  # libvirt's default, which the parser fills in
    for placement in original.findall(PLACEMENT):
        original.remove(placement)
    for legacy in ("auth", "encryption"):
        node = original.find(legacy)
        if node is not None:
            original.find("source").append(node)
    assert canonical(rebuilt) == canonical(original)
    assert disk_schema.validate(rebuilt), disk_schema.error_log


@pytest.mark.parametrize("name, index, expected", [
    ("disk-discard", 0, {"type": "file", "device": "disk", "driver": {"name": "qemu", "type": "qcow2", "discard": "unmap"},
                         "source": {"file": "/var/lib/libvirt/images/f14.img"}, "target": {"dev": "vda", "bus": "virtio"}}),
    ("disk-network-iscsi", 2, {"type": "network", "device": "disk", "driver": {"name": "qemu"},
                               "source": {"protocol": "iscsi", "name": "iqn.1992-01.com.example:storage/1",
                                          "hosts": [{"name": "example.org", "port": 6000}],
                                          "auth": {"username": "myname",
                                                   "secret": {"type": "iscsi", "usage": "mycluster_myname"}}},
                               "target": {"dev": "vdc", "bus": "virtio"}}),
    ("disk-network-rbd-encryption", 0, {"type": "network", "device": "disk", "driver": RAW,
                                        "source": {"protocol": "rbd", "name": "pool/image",
                                                   "hosts": [{"name": "mon1.example.org", "port": 6321},
                                                             {"name": "mon2.example.org", "port": 6322},
                                                             {"name": "mon3.example.org", "port": 6322}],
                                                   "encryption": {"format": "luks", "secret": {
                                                       "uuid": "0a81f5b2-8403-7b23-c8d6-21ccc2f80fb0"}}},
                                        "target": {"dev": "vda", "bus": "virtio"}}),
    ("disk-source-pool-mode", 1, {"type": "volume", "device": "cdrom",
                                  "source": {"pool": "pool-iscsi", "volume": "unit:0:0:2", "mode": "direct"},
                                  "target": {"dev": "hdb", "bus": "ide"}, "readonly": True}),
    ("disk-shared", 0, {"type": "block", "device": "disk", "driver": RAW, "source": {"dev": "/dev/HostVG/QEMUGuest1"},
                        "target": {"dev": "hda", "bus": "ide"}, "shareable": True, "serial": "XYZXYZXYZYXXYZYZYXYZY"}),
], ids=["no-type-is-file", "legacy-auth", "rbd-encryption", "volume-mode", "shareable-serial"])
def test_corpus_disk_dicts(name, index, expected):
    with open(os.path.join(DISK_CORPUS, name + ".xml"), "rb") as handle:
        assert domain_disks(handle.read())[index] == expected


# ---------------------------------------------------------------- references

def _domain(*disks):
    return "<domain type='kvm'><name>g</name><devices>%s</devices></domain>" % "".join(disks)


REFERENCES = [
    # (id, pool type, a guest disk, does it use the case's volume)
    ("file-path", "dir", "<disk type='file'><source file='/var/lib/libvirt/images/vm1.qcow2'/></disk>", True),
    ("file-other", "dir", "<disk type='file'><source file='/var/lib/libvirt/images/vm2.qcow2'/></disk>", False),
    ("file-pool-volume", "dir", "<disk type='volume'><source pool='images' volume='vm1.qcow2'/></disk>", True),
    ("file-other-pool", "dir", "<disk type='volume'><source pool='other' volume='vm1.qcow2'/></disk>", False),
    ("file-other-volume", "dir", "<disk type='volume'><source pool='images' volume='vm2.qcow2'/></disk>", False),
    ("block-dev", "logical", "<disk type='block'><source dev='/dev/vg0/lv1'/></disk>", True),
    ("block-dev-prefix", "logical", "<disk type='block'><source dev='/dev/vg0/lv10'/></disk>", False),
    ("block-pool-volume", "logical", "<disk type='volume'><source pool='vg0' volume='lv1'/></disk>", True),
    ("partition-dev", "disk", "<disk type='block'><source dev='/dev/sdd1'/></disk>", True),
    ("rbd-name", "rbd", "<disk type='network'><source protocol='rbd' name='rbdpool/vm1-disk0'>"
                        "<host name='mon9.example.org'/></source></disk>", True),
    ("rbd-other-image", "rbd", "<disk type='network'><source protocol='rbd' name='rbdpool/vm2-disk0'/></disk>", False),
    ("rbd-other-protocol", "rbd", "<disk type='network'><source protocol='nbd' name='rbdpool/vm1-disk0'/></disk>",
     False),
    ("gluster-name", "gluster", "<disk type='network'><source protocol='gluster' name='gv0/vms/vm1.qcow2'/></disk>",
     True),
    ("gluster-leading-slash", "gluster",
     "<disk type='network'><source protocol='gluster' name='/gv0/vms/vm1.qcow2'/></disk>", True),
    ("iscsi-direct-name", "iscsi-direct",
     "<disk type='network'><source protocol='iscsi' name='%s/3'/></disk>" % IQN2, True),
    ("iscsi-direct-other-lun", "iscsi-direct",
     "<disk type='network'><source protocol='iscsi' name='%s/4'/></disk>" % IQN2, False),
    # the same IQN on another portal is another target (tgtd gives every target the same default IQN)
    ("iscsi-direct-same-portal", "iscsi-direct",
     "<disk type='network'><source protocol='iscsi' name='%s/3'><host name='192.0.2.11' port='3260'/></source></disk>"
     % IQN2, True),
    ("iscsi-direct-other-portal-port", "iscsi-direct",
     "<disk type='network'><source protocol='iscsi' name='%s/3'><host name='192.0.2.11' port='3262'/></source></disk>"
     % IQN2, False),
    ("iscsi-direct-other-portal-host", "iscsi-direct",
     "<disk type='network'><source protocol='iscsi' name='%s/3'><host name='192.0.2.99'/></source></disk>" % IQN2, False),
    ("iscsi-host-dev", "iscsi",
     "<disk type='block'><source dev='/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-%s-lun-1'/></disk>" % IQN1, True),
    ("iscsi-in-qemu", "iscsi", "<disk type='network'><source protocol='iscsi' name='%s/1'/></disk>" % IQN1, True),
    ("iscsi-pool-volume-direct", "iscsi",
     "<disk type='volume'><source pool='san1' volume='unit:0:0:1' mode='direct'/></disk>", True),
    ("iscsi-other-target", "iscsi", "<disk type='network'><source protocol='iscsi' name='%s/1'/></disk>" % IQN2,
     False),
    ("empty-cdrom", "dir", "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>", False),
]


@pytest.mark.parametrize("name, disk_xml, uses", [r[1:] for r in REFERENCES], ids=[r[0] for r in REFERENCES])
def test_disk_uses(name, disk_xml, uses):
    references = volume_references(*case(name))
    unrelated = "<disk type='file'><source file='/srv/unrelated.img'/></disk>"
    found = [disk_uses(disk, references) for disk in domain_disks(_domain(unrelated, disk_xml, unrelated))]
    assert found == [False, uses, False]


# the network name a guest may use for a case's volume (iscsi: QEMU's own initiator, with mode direct)
NETWORK_NAMES = {"iscsi": ("iscsi", IQN1 + "/1"), "iscsi-direct": ("iscsi", IQN2 + "/3"),
                 "rbd": ("rbd", "rbdpool/vm1-disk0"), "gluster": ("gluster", "gv0/vms/vm1.qcow2")}


@pytest.mark.parametrize("name", TYPES)
def test_references_of_every_pool_type(name):
    references = volume_references(*case(name))
    volume = CASES[name][1]
    assert references["volume"] == (CASES[name][0]["name"], volume["name"])
    # host paths only: a logical volume's key is a UUID, an rbd or iscsi-direct path is no file
    assert references["paths"] == set(p for p in (volume["path"], volume["key"]) if p.startswith("/"))
    assert references["network"] == ({NETWORK_NAMES[name]} if name in NETWORK_NAMES else set())


@pytest.mark.parametrize("owner", TYPES)
@pytest.mark.parametrize("name", TYPES)
def test_the_guest_disk_of_a_volume_uses_that_volume_only(name, owner):
    """The disk built for a case's volume is found by that volume's references and by no other case's."""
    disk = parse_disk_element(build_disk_element(guest_disk(*case(name))))
    assert disk_uses(disk, volume_references(*case(owner))) == (name == owner)


@pytest.mark.parametrize("name", VOLUME_DISK_TYPES)
def test_a_volume_disk_uses_its_volume(name):
    disk = parse_disk_element(build_disk_element(guest_disk(*case(name), options={"source": "volume"})))
    assert disk_uses(disk, volume_references(*case(name)))


def test_an_iscsi_lun_that_is_no_lun_has_no_network_name():
    references = volume_references(*case("iscsi", name="not-a-lun"))
    assert references["network"] == set()
    assert references["paths"] == {CASES["iscsi"][1]["path"]}


# ---------------------------------------------------------------- target dev and serial, as libvirt's schema has them

DEVS = ["vdb", "sdc", "hda", "xvdz", "ubd0", "fd0", "vdaa", "sd_1", "ioemu:hdb", "VDB", "vd", "../../etc", "vdb/x",
        "eth0", "vdb\n", " vdb", "vdb'", "vd-b", "nvme0n1", "", "vdb\x00"]
SERIALS = ["WD-1234", "vol 1", "a.b+c_d-e", "<b>x</b>", "abc\ndef", "a/b", "x'y", "\u00e9", "", "a\tb"]


def _schema_accepts(disk_schema, options):
    row, pool, volume = case("dir")
    element = build_disk_element(guest_disk(row, pool, volume, options=options))
    return bool(disk_schema.validate(element))


def _check_accepts(options):
    try:
        check_disk_options(pool_type("dir"), options)
    except ParameterError as exc:
        assert exc.param in ("disk.dev", "disk.serial"), exc.msg
        return False
    return True


@pytest.mark.parametrize("dev", [d for d in DEVS if d and "\x00" not in d])
def test_target_dev_checked_as_the_schema_does(dev, disk_schema):
    """check_disk_options accepts exactly the target devs libvirt's domain schema accepts."""
    assert _check_accepts({"dev": dev}) == _schema_accepts(disk_schema, {"dev": dev}), dev


@pytest.mark.parametrize("serial", SERIALS)
def test_serial_checked_as_the_schema_does(serial, disk_schema):
    expected = _schema_accepts(disk_schema, {"serial": serial}) if serial else False
    assert _check_accepts({"serial": serial}) == expected, serial


@pytest.mark.parametrize("options, param", [({"dev": "../../etc"}, "disk.dev"), ({"dev": "vdb\x00"}, "disk.dev"),
                                            ({"serial": "<x>"}, "disk.serial")])
def test_disk_options_refused_name_the_option(options, param):
    with pytest.raises(ParameterError) as caught:
        check_disk_options(pool_type("dir"), options)
    assert caught.value.param == param and caught.value.msg.startswith(param + ": ")


def test_unset_dev_is_the_default():
    assert _check_accepts({"dev": None}) and _check_accepts({"dev": ""}) and _check_accepts(None)


# ---------------------------------------------------------------- target names (disk_attach picks the next free one)

@pytest.mark.parametrize("dev, index", [
    ("vda", 0), ("vdb", 1), ("vdz", 25), ("vdaa", 26), ("vdaz", 51), ("vdba", 52), ("sdzz", 701), ("sdaaa", 702),
    ("hdc", 2), ("xvda", 0), ("vd1", None), ("vda1", None), ("nvme0n1", None), ("", None), (None, None),
])
def test_target_index_is_libvirts(dev, index):
    assert disk_xml.target_index(dev) == index


@pytest.mark.parametrize("index", [0, 1, 25, 26, 51, 52, 701, 702, 18277])
def test_target_name_is_the_inverse_of_target_index(index):
    assert disk_xml.target_index(disk_xml.target_name("virtio", index)) == index


@pytest.mark.parametrize("bus, taken, expected", [
    ("virtio", [], "vda"),
    ("virtio", ["vda", "vdb", "sda"], "vdc"),
    ("virtio", ["vda", "vdc"], "vdb"),  # a gap left by a detached disk is taken again
    ("scsi", ["sda", "sdb"], "sdc"),
    ("sata", ["sda"], "sdb"),  # scsi, sata and usb disks share the sd names
    ("ide", ["hda", "sda"], "hdb"),
    ("virtio", ["vd%s" % chr(ord("a") + i) for i in range(26)], "vdaa"),
])
def test_next_target(bus, taken, expected):
    assert disk_xml.next_target(bus, taken) == expected


# ---------------------------------------------------------------- wwn, boot order and I/O limits (disk_attach)

@pytest.mark.parametrize("options", [
    {"bus": "scsi", "wwn": "0x50014ee2b1c2d3e4"},
    {"bus": "sata", "wwn": "50014EE2B1C2D3E4", "boot_order": 2},
    {"boot_order": 1},
    {"iotune": {"total_bytes_sec": 10485760, "read_iops_sec": 400, "write_iops_sec": 200}},
    {"iotune": {"read_bytes_sec": 1, "write_bytes_sec": 2, "read_iops_sec": 3, "write_iops_sec": 4}},
], ids=["wwn-scsi", "wwn-sata-boot", "boot", "iotune", "iotune-read-write"])
def test_wwn_boot_order_and_iotune_round_trip(options, disk_schema):
    disk = guest_disk(*case("dir"), options=options)
    for key in ("wwn", "boot_order", "iotune"):
        assert disk.get(key) == options.get(key)
    element = valid(disk_schema, disk)  # libvirt's schema takes it, and it parses back to the same dict
    if "boot_order" in options:
        assert element.find("boot").get("order") == str(options["boot_order"])


def test_an_iotune_limit_of_0_is_no_limit():
    """0 is written (the user said it) but reads back as no limit, as libvirt reports an unlimited disk."""
    disk = guest_disk(*case("dir"), options={"iotune": {"total_bytes_sec": 0, "read_iops_sec": 5}})
    assert disk["iotune"] == {"total_bytes_sec": 0, "read_iops_sec": 5}
    element = build_disk_element(disk)
    assert element.findtext("iotune/total_bytes_sec") == "0"
    assert parse_disk_element(element)["iotune"] == {"read_iops_sec": 5}
    only_zeros = build_disk_element(guest_disk(*case("dir"), options={"iotune": {"total_bytes_sec": 0}}))
    assert "iotune" not in parse_disk_element(only_zeros)


@pytest.mark.parametrize("xml, field", [
    ("<disk type='file'><source file='/a.img'/><target dev='vdb' bus='virtio'/><boot order='first'/></disk>",
     "boot/@order"),
    ("<disk type='file'><source file='/a.img'/><target dev='vdb' bus='virtio'/><iotune>"
     "<read_iops_sec>many</read_iops_sec></iotune></disk>", "iotune/read_iops_sec"),
])
def test_a_number_that_is_none_is_refused_naming_the_field(xml, field):
    with pytest.raises(ValueError) as caught:
        parse_disk_element(etree.fromstring(xml))
    assert field in str(caught.value)


# ---------------------------------------------------------------- disk_references: what a guest disk names

@pytest.mark.parametrize("xml, paths, volume, network, hosts", [
    ("<disk type='file'><source file='/a.img'/></disk>", {"/a.img"}, (None, None), set(), []),
    ("<disk type='block'><source dev='/dev/sdb'/></disk>", {"/dev/sdb"}, (None, None), set(), []),
    ("<disk type='volume'><source pool='images' volume='a.img'/></disk>", set(), ("images", "a.img"), set(), []),
    ("<disk type='network'><source protocol='rbd' name='/rbdpool/img'><host name='mon1' port='6789'/></source>"
     "</disk>", set(), (None, None), {("rbd", "rbdpool/img")}, [{"name": "mon1", "port": 6789}]),
    ("<disk type='file' device='cdrom'><target dev='sdc' bus='sata'/></disk>", set(), (None, None), set(), []),
], ids=["file", "block", "volume", "network", "empty-cdrom"])
def test_disk_references(xml, paths, volume, network, hosts):
    references = disk_xml.disk_references(parse_disk_element(etree.fromstring(xml)))
    assert references == {"paths": paths, "volume": volume, "network": network, "hosts": hosts}


@pytest.mark.parametrize("xml", [
    "<disk type='file'><source file='/a.img'/></disk>",
    "<disk type='volume'><source pool='images' volume='a.img'/></disk>",
    "<disk type='network'><source protocol='iscsi' name='%s/1'><host name='san1' port='3260'/></source></disk>" % IQN1,
])
def test_a_disk_uses_what_it_references(xml):
    disk = parse_disk_element(etree.fromstring(xml))
    assert disk_uses(disk, disk_xml.disk_references(disk))


def test_an_iscsi_disk_on_another_portal_is_another_disk():
    """Targets on two servers may share an IQN: the portal tells them apart."""
    source = "<disk type='network'><source protocol='iscsi' name='%s/1'><host name='%s'/></source></disk>"
    mine = parse_disk_element(etree.fromstring(source % (IQN1, "san1")))
    other = parse_disk_element(etree.fromstring(source % (IQN1, "san2")))
    assert not disk_uses(other, disk_xml.disk_references(mine))


def test_an_empty_drive_references_nothing():
    empty = parse_disk_element(etree.fromstring("<disk type='file' device='cdrom'><target dev='sdc'/></disk>"))
    assert not disk_uses(empty, disk_xml.disk_references(empty))


# ---------------------------------------------------------------- check_common_options

@pytest.mark.parametrize("options, param, words", [
    ({"dev": "eth0"}, "disk.dev", "target device name"),
    ({"serial": "a/b"}, "disk.serial", "serial"),
    ({"bus": "scsi", "wwn": "0x5001"}, "disk.wwn", "16 hexadecimal digits"),
    ({"bus": "scsi", "wwn": "0x50014ee2b1c2d3eg"}, "disk.wwn", "16 hexadecimal digits"),
    ({"bus": "scsi", "wwn": "0x50014ee2b1c2d3e4\n"}, "disk.wwn", "16 hexadecimal digits"),
    ({"wwn": "0x50014ee2b1c2d3e4"}, "disk.wwn", "not to bus virtio"),
    ({"bus": "usb", "wwn": "0x50014ee2b1c2d3e4"}, "disk.wwn", "not to bus usb"),
    ({"boot_order": 0}, "disk.boot_order", "1 or more"),
    ({"boot_order": -3}, "disk.boot_order", "1 or more"),
    ({"iotune": {"read_iops_sec": 10, "write_bytes_sec": -1}}, "disk.iotune.write_bytes_sec", "0 (no limit) or more"),
    ({"iotune": {"total_bytes_sec": 10, "read_bytes_sec": 5}}, "disk.iotune.total_bytes_sec", "read_bytes_sec"),
    ({"iotune": {"total_iops_sec": 10, "write_iops_sec": 5}}, "disk.iotune.total_iops_sec", "write_iops_sec"),
])
def test_check_common_options_names_the_option(options, param, words):
    with pytest.raises(ParameterError) as caught:
        disk_xml.check_common_options(disk_xml.default_options(options))
    assert caught.value.param == param and words in caught.value.msg


@pytest.mark.parametrize("options", [
    {"bus": "ide", "wwn": "50014ee2b1c2d3e4"}, {"bus": "sata", "wwn": "0x50014EE2B1C2D3E4"}, {"boot_order": 1},
    {"iotune": {"total_bytes_sec": 0, "read_iops_sec": None}}, {"serial": "WD 1234_a.b+c-d"},
    {"iotune": {"total_bytes_sec": 10, "read_bytes_sec": 0, "read_iops_sec": 5}},  # 0 is no limit: no conflict
])
def test_check_common_options_takes_what_libvirt_takes(options):
    disk_xml.check_common_options(disk_xml.default_options(options))


WWNS = ["0x50014ee2b1c2d3e4", "50014EE2B1C2D3E4", "0X50014ee2b1c2d3e4", "0x5001", "0x50014ee2b1c2d3e4f",
        "0x50014ee2b1c2d3eg", "wwn", " 50014ee2b1c2d3e4"]


@pytest.mark.parametrize("wwn", WWNS)
def test_wwn_checked_as_the_schema_does(wwn, disk_schema):
    options = {"bus": "scsi", "wwn": wwn}
    try:
        disk_xml.check_common_options(disk_xml.default_options(options))
        accepted = True
    except ParameterError as exc:
        assert exc.param == "disk.wwn"
        accepted = False
    assert accepted == _schema_accepts(disk_schema, options), wwn


@pytest.mark.parametrize("family", ["bytes", "iops"])
@pytest.mark.parametrize("other", ["read", "write"])
def test_a_total_limit_with_a_read_or_write_limit_is_refused_as_the_schema_does(family, other, disk_schema):
    """libvirt refuses a total limit beside a read or write one of the same kind (schema and define alike)."""
    iotune = {"total_%s_sec" % family: 10, "%s_%s_sec" % (other, family): 5}
    assert not _schema_accepts(disk_schema, {"iotune": iotune})
    with pytest.raises(ParameterError) as caught:
        disk_xml.check_common_options(disk_xml.default_options({"iotune": iotune}))
    assert caught.value.param == "disk.iotune.total_%s_sec" % family
