"""AttachmentConverger (disk_attach) branch by branch, over the shared libvirt fake.

The fake guest keeps a persistent definition and a running guest as lists of ``<disk>`` elements that the
device calls edit and log, so each test reads which calls a plan made, in which order, on which definition.
"""

import os

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils import attachment
from ansible_collections.virtops.storage.plugins.module_utils.attachment import AttachmentConverger
from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError, UnsafeActionError, VirtopsError
from ansible_collections.virtops.storage.plugins.module_utils.live_detach import DetachTimeout
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import DISK_OPTIONS_SPEC
from ansible_collections.virtops.storage.plugins.modules.disk_attach import ARGUMENT_SPEC

from . import fake_libvirt
from .fake_libvirt import FakeConnection, FakeProbe, FakeVolume, volume_xml
from .test_volume_resize import DIR_POOL

IMAGES = "/var/lib/libvirt/images/"
ROOT = IMAGES + "root.img"  # every guest's vda
VOLUME = {"pool": "images", "name": "a.img"}
A_IMG = IMAGES + "a.img"
CHANGE_CALLS = ("attachDevice", "detachDevice", "updateDevice", "setBlockIoTune")


@pytest.fixture(autouse=True)
def no_event_loop(monkeypatch):
    """The fake delivers its events itself: libvirt's own event loop is not started."""
    monkeypatch.setattr(attachment, "start_event_loop", lambda: None)


# ---------------------------------------------------------------- helpers

def defaults(spec):
    """The values AnsibleModule gives the options of ``spec`` that a task leaves out."""
    return dict((name, option.get("default")) for name, option in spec.items())


def disk_options(**declared):
    """The ``disk`` option as AnsibleModule hands it over: every suboption, the declared ones set."""
    options = dict(defaults(DISK_OPTIONS_SPEC), **declared)
    if declared.get("iotune") is not None:
        options["iotune"] = dict(defaults(DISK_OPTIONS_SPEC["iotune"]["options"]), **declared["iotune"])
    return options


def file_disk(path, dev, bus="virtio", device="disk", extra=""):
    """A ``<disk>`` of the file ``path`` on target ``dev`` (``extra``: more child elements)."""
    source = "<source file='%s'/>" % path if path else ""
    return ("<disk type='file' device='%s'><driver name='qemu' type='raw'/>%s<target dev='%s' bus='%s'/>%s</disk>"
            % (device, source, dev, bus, extra))


def guest(persistent=True, active=True, disks=(), volumes=("a.img", "b.img")):
    """A connection with the dir pool ``images`` (``volumes``) and guest vm1: vda is root.img, then ``disks``."""
    connection = FakeConnection()
    files = [FakeVolume(name, volume_xml(name, 2 ** 30)) for name in volumes]
    connection.conn.add_pool(DIR_POOL, active=True, volumes=files)
    connection.conn.add_domain("vm1", [ROOT], persistent=persistent, active=active, disks=disks)
    return connection


def converger(connection, check_mode=False, **params):
    module = fake_libvirt.FakeModule(dict(defaults(ARGUMENT_SPEC), domain="vm1"), check_mode=check_mode, **params)
    return AttachmentConverger(module, connection, probe=FakeProbe())


def run(connection, check_mode=False, **params):
    return converger(connection, check_mode, **params).run()


def changes(connection):
    """The device calls made: (call, guest, scope, target dev)."""
    return [entry for entry in connection.conn.log if entry[0] in CHANGE_CALLS]


def refused(connection, param, error=ParameterError, **params):
    """Run in check mode and for real, expecting ``error`` naming ``param`` and no change; returns the message."""
    for check_mode in (True, False):
        with pytest.raises(error) as info:
            run(connection, check_mode, **params)
        assert info.value.details["param"] == param, info.value.msg
        assert changes(connection) == []
    return info.value.msg


def disks_of(connection, scope, name="vm1"):
    """{target dev: disk dict} of a definition of the fake guest."""
    domain = connection.conn.lookupByName(name)
    return dict((disk["target"]["dev"], disk) for disk in attachment.Definition(
        scope, domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if scope == "persistent" else 0)).disks)


@pytest.fixture
def images(tmp_path):
    """Two ISO files and a symlink to the first: path sources must be files of this host."""
    for name in ("one.iso", "two.iso"):
        (tmp_path / name).write_bytes(b"\0" * 4096)
    os.symlink(str(tmp_path / "one.iso"), str(tmp_path / "link.iso"))
    return dict((name, str(tmp_path / name)) for name in ("one.iso", "two.iso", "link.iso"))


# ---------------------------------------------------------------- which definitions

@pytest.mark.parametrize("persistent, active, scopes", [
    (True, True, ["live", "persistent"]),  # live first: where an attach fails, before anything changed
    (True, False, ["persistent"]),  # shut off: its definition only
    (False, True, ["live"]),  # transient: it has no definition
])
def test_a_guest_gets_the_definitions_it_has(persistent, active, scopes):
    connection = guest(persistent, active)
    result = run(connection, volume=VOLUME)
    assert changes(connection) == [("attachDevice", "vm1", scope, "vdb") for scope in scopes]
    assert (result["disk"]["persistent"], result["disk"]["live"]) == (persistent, active)
    assert result["disk"]["source"] == {"file": A_IMG} and A_IMG in result["disk_xml"]


@pytest.mark.parametrize("scope, params", [("persistent", {"live": False}), ("live", {"persistent": False})])
def test_one_definition_of_a_running_guest(scope, params):
    connection = guest()
    run(connection, volume=VOLUME, **params)
    assert changes(connection) == [("attachDevice", "vm1", scope, "vdb")]


@pytest.mark.parametrize("persistent, active, params, param, words", [
    (True, False, {"live": True}, "live", "not running"),
    (False, True, {"persistent": True}, "persistent", "transient"),
    (True, False, {"persistent": False}, "persistent", "nothing to act on"),
])
def test_a_definition_the_guest_lacks_is_refused(persistent, active, params, param, words):
    msg = refused(guest(persistent, active), param, volume=VOLUME, **params)
    assert words in msg and "vm1" in msg


def test_a_missing_guest_is_refused():
    assert "does not exist" in refused(guest(), "domain", domain="vm9", volume=VOLUME)


# ---------------------------------------------------------------- the disk is found by its source

def test_a_path_attached_through_a_symlink_is_the_same_disk(images):
    connection = guest(disks=[file_disk(images["link.iso"], "vdb")])
    result = run(connection, path=images["one.iso"])
    assert result["changed"] is False and result["actions"] == [] and changes(connection) == []
    assert result["disk"]["target"]["dev"] == "vdb"


def test_a_symlink_to_an_attached_file_is_the_same_disk(images):
    connection = guest(disks=[file_disk(images["one.iso"], "vdb")])
    assert run(connection, path=images["link.iso"])["changed"] is False


VOLUME_DISK = ("<disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
               "<source pool='images' volume='a.img'/><target dev='vdc' bus='virtio'/></disk>")


def test_a_volume_disk_is_the_same_disk_as_its_path():
    connection = guest(active=False, disks=[VOLUME_DISK])
    assert run(connection, volume=VOLUME, disk=disk_options(source="volume"))["changed"] is False
    # declared as its concrete path: the same disk, changed where it is, not attached a second time
    result = run(connection, volume=VOLUME)
    assert result["actions"] == ["update vdc (images/a.img) in the persistent definition (source.file, type)"]
    assert changes(connection) == [("updateDevice", "vm1", "persistent", "vdc")]
    assert disks_of(connection, "persistent")["vdc"]["source"] == {"file": A_IMG}


def test_a_path_disk_is_the_same_disk_as_its_volume():
    connection = guest(active=False, disks=[file_disk(A_IMG, "vdc")])
    result = run(connection, volume=VOLUME, disk=disk_options(source="volume"))
    assert [entry[0] for entry in changes(connection)] == ["updateDevice"]
    assert result["disk"]["source"] == {"pool": "images", "volume": "a.img"}


# ---------------------------------------------------------------- the target

def test_a_declared_target_is_taken():
    connection = guest()
    run(connection, volume=VOLUME, disk=disk_options(dev="vdk"))
    assert set(disks_of(connection, "persistent")) == set(disks_of(connection, "live")) == {"vda", "vdk"}


def test_an_attached_disk_keeps_its_target():
    connection = guest(disks=[file_disk(A_IMG, "vdf")])
    result = run(connection, volume=VOLUME)
    assert result["changed"] is False and result["disk"]["target"] == {"dev": "vdf", "bus": "virtio"}


def test_the_next_free_target_is_free_in_both_definitions():
    """vdb is the running guest's only (hot-plugged): the persistent attach takes vdc, not a name the guest
    would have twice once both definitions meet at its next start."""
    connection = guest()
    connection.conn.lookupByName("vm1").attachDeviceFlags(file_disk(IMAGES + "hot.img", "vdb"),
                                                          libvirt.VIR_DOMAIN_AFFECT_LIVE)
    del connection.conn.log[:]
    run(connection, volume=VOLUME, live=False)
    assert changes(connection) == [("attachDevice", "vm1", "persistent", "vdc")]


def test_a_target_another_disk_holds_is_refused():
    msg = refused(guest(), "disk.dev", volume=VOLUME, disk=disk_options(dev="vda"))
    assert "vda" in msg and ROOT in msg


# ---------------------------------------------------------------- which fields changed

@pytest.mark.parametrize("have, want, changed", [
    ({}, {"iotune": {"total_bytes_sec": 0}}, []),  # 0 is no limit, as absent
    ({"iotune": {"read_iops_sec": 100}}, {"iotune": {"read_iops_sec": 0}}, ["iotune.read_iops_sec"]),
    ({}, {"iotune": {"write_bytes_sec": 5}}, ["iotune.write_bytes_sec"]),
    ({"iotune": {"read_iops_sec": 100}}, {"iotune": {"write_bytes_sec": 5}}, ["iotune.write_bytes_sec"]),
    ({"iotune": {"read_iops_sec": 100}}, {}, []),  # limits not declared are kept
    ({"source": {"file": "/a.iso"}}, {"source": {}}, ["source"]),  # eject: the empty source is declared
    ({"source": {}}, {"source": {}}, []),
    ({"source": {}}, {"source": {"file": "/a.iso"}}, ["source.file"]),
    ({"serial": "A"}, {}, []),
    ({"serial": "A", "driver": {"cache": "none"}}, {"serial": "B", "driver": {"cache": "none"}}, ["serial"]),
])
def test_changed_fields(have, want, changed):
    assert AttachmentConverger._changed_fields(have, want) == changed  # pylint: disable=protected-access


def test_an_iotune_limit_of_0_on_an_unlimited_disk_is_no_change():
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    result = run(connection, volume=VOLUME, disk=disk_options(iotune={"total_bytes_sec": 0}))
    assert result["changed"] is False and changes(connection) == []


def test_io_limits_change_in_place_in_both_definitions():
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    result = run(connection, volume=VOLUME, disk=disk_options(iotune={"write_bytes_sec": 1000}))
    assert result["actions"] == ["set the I/O limits of vdb (%s) in the running guest (iotune.write_bytes_sec)" % A_IMG,
                                 "update vdb (%s) in the persistent definition (iotune.write_bytes_sec)" % A_IMG]
    assert changes(connection) == [("setBlockIoTune", "vm1", "live", "vdb"),
                                   ("updateDevice", "vm1", "persistent", "vdb")]
    for scope in ("live", "persistent"):
        assert disks_of(connection, scope)["vdb"]["iotune"] == {"write_bytes_sec": 1000}
    assert run(connection, volume=VOLUME, disk=disk_options(iotune={"write_bytes_sec": 1000}))["changed"] is False


def limited(path, dev, **limits):
    """A file disk with the I/O limits ``limits``."""
    return file_disk(path, dev, extra="<iotune>%s</iotune>" % "".join(
        "<%s>%d</%s>" % (key, value, key) for key, value in sorted(limits.items())))


@pytest.mark.parametrize("have, declared, expected", [
    ({"read_iops_sec": 100}, {"write_bytes_sec": 1000}, {"read_iops_sec": 100, "write_bytes_sec": 1000}),
    ({"read_iops_sec": 100}, {"read_iops_sec": 0}, None),
    # libvirt takes a total limit or read and write limits of one kind: the declared one wins
    ({"read_bytes_sec": 100, "read_iops_sec": 7}, {"total_bytes_sec": 50}, {"total_bytes_sec": 50, "read_iops_sec": 7}),
    ({"total_iops_sec": 100}, {"write_iops_sec": 10}, {"write_iops_sec": 10}),
])
def test_io_limits_left_out_are_kept_in_both_definitions(have, declared, expected):
    connection = guest(disks=[limited(A_IMG, "vdb", **have)])
    run(connection, volume=VOLUME, disk=disk_options(iotune=declared))
    for scope in ("live", "persistent"):
        assert disks_of(connection, scope)["vdb"].get("iotune") == expected, scope
    assert run(connection, volume=VOLUME, disk=disk_options(iotune=declared))["changed"] is False


def test_a_persistent_update_keeps_the_io_limits():
    connection = guest(active=False, disks=[limited(A_IMG, "vdb", read_iops_sec=100)])
    result = run(connection, volume=VOLUME, disk=disk_options(serial="s1"))
    assert result["actions"] == ["update vdb (%s) in the persistent definition (serial)" % A_IMG]
    assert disks_of(connection, "persistent")["vdb"]["iotune"] == {"read_iops_sec": 100}
    assert result["disk"]["iotune"] == {"read_iops_sec": 100}


@pytest.mark.parametrize("declared, kept", [
    ({"bus": "scsi", "cache": "writeback"}, {"serial": "s1", "wwn": "0x50014ee2b1c2d3e4", "boot_order": 2}),
    ({"bus": "scsi", "serial": "s2"}, {"serial": "s2", "wwn": "0x50014ee2b1c2d3e4", "boot_order": 2}),
    ({"bus": "virtio", "dev": "vdb"}, {"serial": "s1", "boot_order": 2}),  # libvirt gives no virtio disk a wwn
])
def test_an_update_keeps_what_the_task_leaves_out(declared, kept):
    """The serial a guest finds its disk by, its wwn and boot order stay unless declared."""
    extra = "<serial>s1</serial><wwn>0x50014ee2b1c2d3e4</wwn><boot order='2'/>"
    connection = guest(active=False, disks=[file_disk(A_IMG, "sdb", bus="scsi", extra=extra)])
    result = run(connection, volume=VOLUME, disk=disk_options(**declared))
    assert result["changed"] is True
    (dev,) = set(disks_of(connection, "persistent")) - {"vda"}
    written = disks_of(connection, "persistent")[dev]
    assert dict((key, written.get(key)) for key in kept) == kept and ("wwn" in written) == ("wwn" in kept)


# ---------------------------------------------------------------- what a running guest cannot change in place

@pytest.mark.parametrize("declared, named", [
    ({"serial": "new"}, ["disk.serial"]),
    ({"readonly": True, "serial": "new"}, ["disk.readonly", "disk.serial"]),
    ({"cache": "none"}, ["disk.cache"]),
    ({"bus": "scsi"}, ["disk.bus"]),
    ({"dev": "vdk"}, ["disk.dev"]),
])
def test_a_live_change_needs_allow_reattach(declared, named):
    connection = guest(disks=[file_disk(A_IMG, "vdb", extra="<serial>old</serial>")])
    msg = refused(connection, "allow_reattach", volume=VOLUME, disk=disk_options(**declared))
    for option in named:
        assert option in msg, (option, msg)
    assert "live: false" in msg


@pytest.mark.parametrize("field, option", [
    ("driver.cache", "disk.cache"), ("driver.io", "disk.io"), ("target.dev", "disk.dev"), ("target.bus", "disk.bus"),
    ("serial", "disk.serial"), ("readonly", "disk.readonly"), ("device", "disk.device"), ("wwn", "disk.wwn"),
    ("source.file", "source.file"), ("type", "type"), ("driver.type", "driver.type"),
])
def test_a_changed_field_is_named_by_its_option(field, option):
    assert attachment.option_of(field) == option


def test_allow_reattach_detaches_and_attaches_the_live_disk():
    connection = guest(disks=[file_disk(A_IMG, "vdb", extra="<serial>old</serial>")])
    result = run(connection, volume=VOLUME, disk=disk_options(serial="new"), allow_reattach=True)
    assert result["actions"] == ["detach and re-attach vdb (%s) in the running guest (serial)" % A_IMG,
                                 "update vdb (%s) in the persistent definition (serial)" % A_IMG]
    assert changes(connection) == [("detachDevice", "vm1", "live", "vdb"), ("attachDevice", "vm1", "live", "vdb"),
                                   ("updateDevice", "vm1", "persistent", "vdb")]
    assert disks_of(connection, "live")["vdb"]["serial"] == disks_of(connection, "persistent")["vdb"]["serial"] == "new"


def test_a_new_target_re_attaches_the_persistent_disk():
    connection = guest(active=False, disks=[file_disk(A_IMG, "vdb")])
    result = run(connection, volume=VOLUME, disk=disk_options(dev="vdk"))
    assert result["actions"] == ["re-attach vdb (%s) in the persistent definition (target.dev)" % A_IMG]
    assert changes(connection) == [("detachDevice", "vm1", "persistent", "vdb"),
                                   ("attachDevice", "vm1", "persistent", "vdk")]


# ---------------------------------------------------------------- cdrom media

def cdrom(path):
    return file_disk(path, "sdc", bus="sata", device="cdrom", extra="<readonly/>")


CDROM = {"device": "cdrom", "bus": "sata", "dev": "sdc", "readonly": True}


def test_cdrom_media_change_in_place(images):
    connection = guest(disks=[cdrom(images["one.iso"])])
    result = run(connection, path=images["two.iso"], format="raw", disk=disk_options(**CDROM))
    assert result["actions"] == [
        "change the media of sdc (%s) in the running guest (source.file)" % images["one.iso"],
        "update sdc (%s) in the persistent definition (source.file)" % images["one.iso"]]
    assert changes(connection) == [("updateDevice", "vm1", "live", "sdc"), ("updateDevice", "vm1", "persistent", "sdc")]
    for scope in ("live", "persistent"):
        assert disks_of(connection, scope)["sdc"]["source"] == {"file": images["two.iso"]}


def test_cdrom_eject_keeps_the_drive(images):
    connection = guest(disks=[cdrom(images["one.iso"])])
    result = run(connection, disk=disk_options(**CDROM))
    assert result["actions"][0] == "eject the media of sdc (%s) in the running guest (source)" % images["one.iso"]
    assert [entry[0] for entry in changes(connection)] == ["updateDevice", "updateDevice"]
    for scope in ("live", "persistent"):
        assert "source" not in disks_of(connection, scope)["sdc"]  # the drive, without media
    assert run(connection, disk=disk_options(**CDROM))["changed"] is False


def test_media_into_an_empty_drive(images):
    connection = guest(disks=[cdrom(None)])
    result = run(connection, path=images["one.iso"], format="raw", disk=disk_options(**CDROM))
    # an empty drive has no format to compare (libvirt drops it): the media bring one
    assert result["actions"][0] == "change the media of sdc (no media) in the running guest (driver.type, source.file)"


# ---------------------------------------------------------------- detach

def test_detach_persistent_first_then_live():
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    result = run(connection, volume=VOLUME, state="absent")
    assert result["actions"] == ["detach vdb (%s) from the persistent definition" % A_IMG,
                                 "detach vdb (%s) from the running guest" % A_IMG]
    assert changes(connection) == [("detachDevice", "vm1", "persistent", "vdb"), ("detachDevice", "vm1", "live", "vdb")]
    assert result["disk"] is None and result["disk_xml"] is None
    assert run(connection, volume=VOLUME, state="absent")["changed"] is False


def test_a_guest_that_keeps_the_disk_fails_the_detach_after_the_timeout():
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    connection.conn.lookupByName("vm1").keeps_detached_disks = True
    with pytest.raises(DetachTimeout) as info:
        run(connection, volume=VOLUME, state="absent", detach_timeout=1, detach_retries=0)
    assert info.value.details["param"] == "detach_timeout"
    assert "persistent definition no longer has the disk" in info.value.msg
    assert set(disks_of(connection, "live")) == {"vda", "vdb"} and set(disks_of(connection, "persistent")) == {"vda"}


def test_detach_by_target():
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    run(connection, state="absent", disk=disk_options(dev="vdb"))
    assert set(disks_of(connection, "live")) == set(disks_of(connection, "persistent")) == {"vda"}


# ---------------------------------------------------------------- another running guest's disk

def other_guest(connection, extra="", active=True):
    connection.conn.add_domain("vm2", active=active, disks=[file_disk(A_IMG, "vdb", extra=extra)])


@pytest.mark.parametrize("extra, declared", [("", {}), ("<shareable/>", {}), ("", {"shareable": True}),
                                             ("<readonly/>", {})])
def test_a_disk_another_running_guest_writes_is_refused(extra, declared):
    connection = guest()
    other_guest(connection, extra)
    msg = refused(connection, "disk.shareable", error=UnsafeActionError, volume=VOLUME,
                  disk=disk_options(**declared))
    assert "vm2" in msg and A_IMG in msg


@pytest.mark.parametrize("extra, declared, active", [
    ("<shareable/>", {"shareable": True}, True),
    ("<readonly/>", {"readonly": True}, True),
    ("", {}, False),  # a guest that is not running writes nothing
])
def test_a_shared_read_only_or_stopped_guest_disk_is_allowed(extra, declared, active):
    connection = guest()
    other_guest(connection, extra, active)
    assert run(connection, volume=VOLUME, disk=disk_options(**declared))["changed"] is True


# ---------------------------------------------------------------- the bus

def test_a_bus_the_machine_lacks_is_refused():
    msg = refused(guest(), "disk.bus", volume=VOLUME, disk=disk_options(bus="ide"))
    assert "pc-q35-7.2" in msg and "ide" in msg


def test_usb_without_a_usb_controller_is_refused():
    connection = guest()
    connection.conn.lookupByName("vm1").extra_devices = "<controller type='usb' index='0' model='none'/>"
    assert "USB controller" in refused(connection, "disk.bus", volume=VOLUME, disk=disk_options(bus="usb"))


def test_the_bus_is_checked_only_for_an_attach():
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    connection.conn.disk_buses = ("sata",)
    assert run(connection, volume=VOLUME)["changed"] is False
    assert not [entry for entry in connection.conn.log if entry[0] == "getDomainCapabilities"]


# ---------------------------------------------------------------- the source

def test_disk_xml_is_attached_as_written_with_the_target_chosen():
    connection = guest(active=False)
    xml = "<disk type='file' device='disk'><source file='%s'/><target bus='virtio'/><serial>x1</serial></disk>" % A_IMG
    run(connection, disk_xml=xml)
    attached = disks_of(connection, "persistent")["vdb"]
    assert attached["serial"] == "x1" and attached["source"] == {"file": A_IMG}
    assert "driver" not in attached  # as written: nothing added
    assert run(connection, disk_xml=xml)["changed"] is False


@pytest.mark.parametrize("params, param", [
    ({}, "volume"),
    ({"disk": disk_options(device="disk")}, "volume"),  # only a cdrom drive may be empty
    ({"volume": VOLUME, "format": "qcow2"}, "format"),
    ({"volume": VOLUME, "detach_timeout": 0}, "detach_timeout"),
    ({"volume": VOLUME, "detach_retries": -1}, "detach_retries"),
    ({"volume": VOLUME, "disk": disk_options(dev="eth0")}, "disk.dev"),
    ({"volume": VOLUME, "disk": disk_options(serial="a/b")}, "disk.serial"),
    ({"volume": VOLUME, "disk": disk_options(wwn="0x5000c5")}, "disk.wwn"),
    ({"volume": VOLUME, "disk": disk_options(iotune={"read_iops_sec": -1})}, "disk.iotune.read_iops_sec"),
    ({"volume": {"pool": "images", "name": "nope.img"}}, "volume.name"),
    ({"volume": {"pool": "nope", "name": "a.img"}}, "volume.pool"),
    ({"path": "/nonexistent/virtops.img"}, "path"),
    ({"disk_xml": "<volume/>"}, "disk_xml"),
    ({"disk_xml": "<disk type='file'><source file='/a.img'/><target dev='vdb'/></disk>"}, "disk_xml"),
    ({"disk_xml": "<disk"}, "disk_xml"),
    ({"disk_xml": "<disk type='file'><source file='/a.img'/><target dev='vdb' bus='virtio'/><boot order='x'/>"
                  "</disk>"}, "disk_xml"),
])
def test_bad_input_is_refused_naming_the_option(params, param):
    refused(guest(), param, **params)


# ---------------------------------------------------------------- check mode and the diff

# name -> (guest disks, task parameters)
SCENARIOS = {
    "attach": ([], {"volume": VOLUME}),
    "attached": ([file_disk(A_IMG, "vdb")], {"volume": VOLUME}),
    "detach": ([file_disk(A_IMG, "vdb")], {"volume": VOLUME, "state": "absent"}),
    "detached": ([], {"volume": VOLUME, "state": "absent"}),
    "iotune": ([file_disk(A_IMG, "vdb")], {"volume": VOLUME, "disk": disk_options(iotune={"read_iops_sec": 9})}),
    "reattach": ([file_disk(A_IMG, "vdb")], {"volume": VOLUME, "disk": disk_options(serial="s"),
                                             "allow_reattach": True}),
    "eject": ([cdrom(A_IMG)], {"disk": disk_options(**CDROM)}),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_check_mode_plans_the_same_and_changes_nothing(name):
    disks, params = SCENARIOS[name]
    checked_connection, real_connection = guest(disks=disks), guest(disks=disks)
    checked = run(checked_connection, check_mode=True, **params)
    real = run(real_connection, **params)
    assert changes(checked_connection) == []
    assert checked["actions"] == real["actions"] and checked["changed"] == real["changed"]
    assert checked["diff"] == real["diff"]
    assert (checked["disk"] is None) == (real["disk"] is None)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("check_mode", [True, False])
def test_the_diff_is_empty_exactly_when_nothing_is_done(name, check_mode):
    disks, params = SCENARIOS[name]
    result = run(guest(disks=disks), check_mode, **params)
    diff = result["diff"]
    assert (diff["before"] == diff["after"]) == (result["actions"] == []), result
    assert "running guest" in diff["before"] and "persistent definition" in diff["before"]


def test_a_gluster_image_qemu_cannot_open_says_why(monkeypatch):
    """QEMU's 'Could not read L1 table: Input/output error' over gluster gets the reason and the fix."""
    connection = guest()
    domain = connection.conn.lookupByName("vm1")

    def refuse(xml, flags):
        raise fake_libvirt.libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: unable to execute QEMU "
                                         "command 'blockdev-add': Could not read L1 table: Input/output error")
    monkeypatch.setattr(domain, "attachDeviceFlags", refuse)
    monkeypatch.setattr(connection.conn, "lookupByName", lambda name: domain)
    xml = ("<disk type='network' device='disk'><driver name='qemu' type='qcow2'/><source protocol='gluster' "
           "name='gv/a.qcow2'><host name='gl1'/></source><target bus='virtio'/></disk>")
    with pytest.raises(VirtopsError) as info:
        run(connection, disk_xml=xml)
    assert "Could not read L1 table" in info.value.msg
    assert "multiple of 512" in info.value.msg and "truncate -s %64K" in info.value.msg
