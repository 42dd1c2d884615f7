"""disk_attach's disk options on the real libvirtd: the refusals of live changes, the I/O limits.

What libvirt cannot change in a running guest's disk is refused without allow_reattach, naming the options
the user set (disk.cache, disk.bus, ...), in check mode and for real, and the running guest keeps its disk.
I/O limits left out are kept, in the persistent definition (a stopped guest) and in the running guest, and a
declared total limit replaces the read and write limits of its kind (libvirt never takes both).
"""

import os

from .attach_helpers import disks, luks_image
from .conftest import assert_refused, run_module, run_ok, workdir  # noqa: F401  pylint: disable=unused-import
from .guest import running_guest  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import define_guest, make_dir_pool, undefine_guest


def volume_args(pools, workdir, prefix, domain):  # noqa: F811  pylint: disable=redefined-outer-name
    """disk_attach's arguments for a new raw volume r.img of a new dir pool, attached to ``domain``."""
    pool = prefix + "dir"
    make_dir_pool(pools, pool, os.path.join(workdir, "dir"))
    run_ok("storage_volume", dict(pool=pool, name="r.img", capacity="8M", format="raw"))
    return dict(domain=domain, volume=dict(pool=pool, name="r.img"))


def limits(domain, scope):
    """{limit: value} of the guest's only attached disk in that definition (no <iotune>: {})."""
    (disk,) = disks(domain, scope)
    iotune = disk.find("iotune")
    return dict((limit.tag, int(limit.text)) for limit in (iotune if iotune is not None else []) if int(limit.text))


def test_a_live_change_is_refused_naming_the_options(running_guest, workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    args = volume_args(pools, workdir, prefix, running_guest)
    attached = run_ok("disk_attach", dict(args, disk=dict(bus="scsi", serial="old")), changed=True)
    assert attached["disk"]["target"]["dev"] == "sda" and attached["disk"]["live"] is True, attached
    before = [disk.findtext("serial") for disk in disks(running_guest, "live")]

    for declared, options in (
            (dict(bus="scsi", serial="new", cache="writeback"), ["disk.serial", "disk.cache"]),
            (dict(bus="virtio", serial="old"), ["disk.bus"]),
            (dict(bus="scsi", dev="sdk", serial="old"), ["disk.dev"])):
        for check in (True, False):
            result = run_module("disk_attach", dict(args, disk=declared), check=check)
            assert_refused(result, "allow_reattach")
            for option in options:
                assert option in result["msg"], (option, result["msg"])
        assert [disk.findtext("serial") for disk in disks(running_guest, "live")] == before


# the limits a guest's disk has, the limits declared, the limits it has then
LIMIT_STEPS = [
    ({"read_iops_sec": 100}, {"write_bytes_sec": 1048576}, {"read_iops_sec": 100, "write_bytes_sec": 1048576}),
    (None, {"total_bytes_sec": 2097152}, {"read_iops_sec": 100, "total_bytes_sec": 2097152}),
    (None, {"total_iops_sec": 50}, {"total_bytes_sec": 2097152, "total_iops_sec": 50}),
]


def converge_limits(args, domain, scope):
    """Attach with the first limits, then declare each step's: the disk has exactly the expected limits."""
    run_ok("disk_attach", dict(args, disk=dict(bus="scsi", iotune=LIMIT_STEPS[0][0])), changed=True)
    for dummy, declared, expected in LIMIT_STEPS:
        run_ok("disk_attach", dict(args, disk=dict(bus="scsi", iotune=declared)), changed=True)
        assert limits(domain, scope) == expected, (declared, limits(domain, scope))
        run_ok("disk_attach", dict(args, disk=dict(bus="scsi", iotune=declared)), changed=False)


def test_io_limits_left_out_are_kept_in_the_persistent_definition(workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = prefix + "limits"
    define_guest(guest, [])
    try:
        converge_limits(volume_args(pools, workdir, prefix, guest), guest, "persistent")
    finally:
        undefine_guest(guest)


def test_io_limits_left_out_are_kept_in_the_running_guest(running_guest, workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    converge_limits(volume_args(pools, workdir, prefix, running_guest), running_guest, "live")


def test_an_update_keeps_the_serial_and_wwn_left_out(workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    """A guest finds its disk by serial (/dev/disk/by-id): changing the cache must not take it away."""
    guest = prefix + "keep"
    define_guest(guest, [])
    try:
        args = volume_args(pools, workdir, prefix, guest)
        run_ok("disk_attach", dict(args, disk=dict(bus="scsi", serial="s1", wwn="0x50014ee2b1c2d3e4")), changed=True)
        result = run_ok("disk_attach", dict(args, disk=dict(bus="scsi", cache="writeback")), changed=True)
        assert result["actions"] == ["update sda (%s) in the persistent definition (driver.cache)" % (
            result["disk"]["source"]["file"])]
        (disk,) = disks(guest, "persistent")
        assert (disk.findtext("serial"), disk.findtext("wwn"), disk.find("driver").get("cache")) == (
            "s1", "0x50014ee2b1c2d3e4", "writeback")
        assert (result["disk"]["serial"], result["disk"]["wwn"]) == ("s1", "0x50014ee2b1c2d3e4")
    finally:
        undefine_guest(guest)


def test_a_luks_image_given_as_path_is_refused_naming_path(workdir, prefix):  # noqa: F811  pylint: disable=redefined-outer-name
    """A LUKS image probed at ``path`` names no passphrase secret: refused up front, the guest unchanged."""
    image = luks_image(os.path.join(workdir, "secret.luks"), "a-passphrase", b"plain")
    domain = prefix + "luks"
    define_guest(domain, [])
    try:
        for check in (True, False):
            result = run_module("disk_attach", dict(domain=domain, path=image), check=check)
            assert_refused(result, "path", "LUKS-encrypted")
            assert disks(domain, "persistent") == []
    finally:
        undefine_guest(domain)
