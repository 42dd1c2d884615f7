"""disk_attach behaviour on the real libvirtd: what changes in place, what a shut-off or half-attached guest
converges to, how targets are picked, how a detach that never completes fails, and what is refused.

Every action runs in the six steps (check, real, check, real) with the host verified after each: both
definitions read with virsh, QEMU's own view (query-block, blkdeviotune), and the Linux guest's serial log
(tests/integration/linux_guest.py: it identifies disks by serial and has no cdrom driver).
"""

import time

from .attach_helpers import (  # noqa: F401  pylint: disable=unused-import
    assert_refused_changing_nothing, attach, block_io_tune, by_target, disk_by_serial, hand_attach, image, media,
    osless_persistent_guest, placement, serials, source_path)
from .conftest import run_ok, six_steps, virsh, workdir  # noqa: F401  pylint: disable=unused-import
from .guest import running_guest  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import make_dir_pool

BOTH = ("persistent", "live")
DISK_XML = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{path}'/>"
            "<target dev='{dev}' bus='virtio'/><serial>{serial}</serial></disk>")


def path_args(guest, path, **disk):
    """disk_attach of the raw file ``path`` to ``guest`` with the ``disk`` options."""
    return dict(domain=guest, path=path, format="raw", disk=disk)


def assert_unchanged_rerun(args):
    """The task reports nothing to do, in check mode and for real."""
    for check in (True, False):
        assert run_ok("disk_attach", args, check=check, changed=False)["actions"] == []


def attached_and_seen(guest, path, serial):
    """Attach the raw file ``path`` with ``serial`` to the running ``guest`` and wait until the guest has it;
    return the task's arguments."""
    args = path_args(guest.name, path, serial=serial)
    since = guest.mark()
    run_ok("disk_attach", args, changed=True)
    guest.wait_for("ADD", serial, since)
    return args


def assert_no_hotplug_seen(guest, since):
    """The guest saw no disk come or go since line ``since`` of its log (a change in place)."""
    seen = [line for line in guest.lines()[since:] if line.startswith(("GUEST ADD", "GUEST REMOVE"))]
    assert seen == [], seen


# ---------------------------------------------------------------- 1. cdrom media, in place

def test_cdrom_media_inserted_changed_and_ejected_in_place(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    # the empty drive is defined before the guest starts: libvirt 9.0 cannot hot-plug one (QEMU's blockdev-add
    # gets a null filename; the module refuses it), and a drive hot-plugged with media would only test the eject
    guest = linux_guest(persistent=True, start=False)
    isos = [image(workdir, name, name.encode("ascii")) for name in ("first.iso", "second.iso")]
    drive = dict(device="cdrom", bus="scsi", dev="sdc")  # read-only without saying so, as libvirt stores a cdrom
    empty = dict(domain=guest.name, disk=drive)

    def drive_holds(path):
        def verify():
            for scope in BOTH:
                assert source_path(by_target(guest.name, scope, "sdc")) == path, scope
            live = by_target(guest.name, "live", "sdc")
            assert placement(live) == where, "the drive was re-plugged"
            assert media(guest.name, placement(live)[0]) == path
        return verify

    def no_drive():
        assert by_target(guest.name, "persistent", "sdc") is None

    def empty_drive_defined():
        assert source_path(by_target(guest.name, "persistent", "sdc")) is None

    real = six_steps("disk_attach", empty, no_drive, empty_drive_defined)  # an empty drive is a declared state
    assert real["disk"]["source"] == {} and real["disk"]["device"] == "cdrom", real
    guest.start()
    # a second empty drive cannot be hot-plugged: refused before anything changes, naming live
    assert_refused_changing_nothing(guest.name, dict(empty, disk=dict(drive, dev="sdd")), "live", "empty cdrom")
    where = placement(by_target(guest.name, "live", "sdc"))
    drive_holds(None)()
    assert_unchanged_rerun(empty)
    since = guest.mark()

    inserted = six_steps("disk_attach", dict(empty, path=isos[0], format="raw"), drive_holds(None),
                         drive_holds(isos[0]))
    assert any(action.startswith("change the media of sdc") for action in inserted["actions"]), inserted
    changed = six_steps("disk_attach", dict(empty, path=isos[1], format="raw"), drive_holds(isos[0]),
                        drive_holds(isos[1]))
    assert any(action.startswith("change the media of sdc") for action in changed["actions"]), changed
    ejected = six_steps("disk_attach", empty, drive_holds(isos[1]), drive_holds(None))
    assert any(action.startswith("eject the media of sdc") for action in ejected["actions"]), ejected
    assert_no_hotplug_seen(guest, since)


# ---------------------------------------------------------------- 2. a shut-off guest gets it at boot

def test_persistent_only_attach_to_a_shut_off_guest_is_seen_at_boot(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True, start=False)
    args = path_args(guest.name, image(workdir, "boot.img", b"HOST-BOOT-DATA\n"), serial="Rboot", bus="scsi")

    def nothing():
        assert serials(guest.name, "persistent") == {}

    def in_the_definition():
        assert serials(guest.name, "persistent") == {"Rboot": "sda"}
        assert virsh("domstate", guest.name).strip() == "shut off"

    real = six_steps("disk_attach", args, nothing, in_the_definition)
    assert real["disk"]["persistent"] is True and real["disk"]["live"] is False, real
    assert len(real["actions"]) == 1 and real["actions"][0].endswith("to the persistent definition"), real

    guest.start()
    assert guest.ready.fields["disks"] == "sda:Rboot", guest.ready.line
    assert bytes.fromhex(guest.wait_for("READ", "Rboot").fields["hex"]).startswith(b"HOST-BOOT-DATA\n")
    assert serials(guest.name, "live") == {"Rboot": "sda"}
    assert_unchanged_rerun(args)


# ---------------------------------------------------------------- 3. live and persistent converged separately

def test_live_only_disk_added_to_the_persistent_definition_then_detached_live_only(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True)
    args = path_args(guest.name, image(workdir, "split.img"), serial="Rsplit")

    def in_(*scopes):
        def verify():
            for scope in BOTH:
                assert serials(guest.name, scope) == ({"Rsplit": "vda"} if scope in scopes else {}), scope
        return verify

    since = guest.mark()
    six_steps("disk_attach", dict(args, live=True, persistent=False), in_(), in_("live"))
    guest.wait_for("ADD", "Rsplit", since)

    real = six_steps("disk_attach", args, in_("live"), in_("live", "persistent"))
    assert real["actions"] == ["attach vda (%s) to the persistent definition" % args["path"]], real

    since = guest.mark()
    six_steps("disk_attach", dict(args, persistent=False, state="absent"), in_("live", "persistent"), in_("persistent"))
    guest.wait_for("REMOVE", "Rsplit", since, timeout=10)


# ---------------------------------------------------------------- 4. a detach the guest never completes

def test_detach_from_a_guest_that_never_releases_fails_within_the_timeout(osless_persistent_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = osless_persistent_guest
    args = path_args(guest, image(workdir, "kept.img"), serial="kept")
    run_ok("disk_attach", args, changed=True)
    detach = dict(args, state="absent", detach_timeout=6, detach_retries=1)

    started = time.monotonic()
    result = attach(detach)
    elapsed = time.monotonic() - started
    assert result.get("failed") and result["param"] == "detach_timeout", result
    assert "still attached to the running guest" in result["msg"], result["msg"]
    assert "the persistent definition no longer has the disk" in result["msg"], result["msg"]
    assert 6 <= elapsed < 6 + 15, elapsed  # libvirt's own wait of 5 s per request is the slack
    assert serials(guest, "persistent") == {} and serials(guest, "live") == {"kept": "vda"}

    # the disk is still the running guest's: a rerun tries again and fails again, never reports success
    planned = run_ok("disk_attach", detach, check=True, changed=True)
    assert planned["actions"] == ["detach vda (%s) from the running guest" % args["path"]], planned
    again = attach(detach)
    assert again.get("failed") and again["param"] == "detach_timeout", again
    assert "still attached to the running guest" in again["msg"], again["msg"]
    assert serials(guest, "persistent") == {} and serials(guest, "live") == {"kept": "vda"}


# ---------------------------------------------------------------- 5. target names picked

def test_target_is_the_first_free_name_of_both_definitions_and_stays(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True)
    first = path_args(guest.name, image(workdir, "first.img"), serial="Rfirst")
    second = path_args(guest.name, image(workdir, "second.img"), serial="Rsecond")

    def targets(expected):
        def verify():
            assert serials(guest.name, "persistent") == dict(expected, **by_hand["persistent"])
            assert serials(guest.name, "live") == dict(expected, **by_hand["live"])
        return verify

    by_hand = {"persistent": {}, "live": {}}
    real = six_steps("disk_attach", first, targets({}), targets({"Rfirst": "vda"}))
    assert real["disk"]["target"] == {"dev": "vda", "bus": "virtio"}, real

    # vdb taken in the persistent definition only, vdd in the running guest only: the next free name is vdc
    for serial, dev, flag, scope in (("Rhandp", "vdb", "--config", "persistent"), ("Rhandl", "vdd", "--live", "live")):
        hand_attach(guest.name, DISK_XML.format(path=image(workdir, serial + ".img"), dev=dev, serial=serial), flag)
        by_hand[scope][serial] = dev
    assert_unchanged_rerun(first)
    targets({"Rfirst": "vda"})()

    real = six_steps("disk_attach", second, targets({"Rfirst": "vda"}), targets({"Rfirst": "vda", "Rsecond": "vdc"}))
    assert real["disk"]["target"]["dev"] == "vdc", real
    assert_unchanged_rerun(first)


# ---------------------------------------------------------------- 6. refusals that change nothing

def test_bad_targets_buses_and_sources_are_refused_changing_nothing(linux_guest, workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True)
    pool, stopped = prefix + "pool", prefix + "stopped"
    make_dir_pool(pools, pool, workdir + "/pool")
    make_dir_pool(pools, stopped, workdir + "/stopped")
    run_ok("storage_volume", dict(pool=pool, name="v.img", capacity="4M", format="raw"))
    virsh("pool-destroy", stopped)
    held = path_args(guest.name, image(workdir, "held.img"), serial="Rheld")
    run_ok("disk_attach", held, changed=True)  # vda
    other = path_args(guest.name, image(workdir, "other.img"))

    def refused(args, param, fragment=None):
        return assert_refused_changing_nothing(guest.name, args, param, fragment)

    assert "Rheld" not in refused(dict(other, disk=dict(dev="vda")), "disk.dev", "held by another disk")
    refused(dict(other, disk=dict(bus="ide")), "disk.bus", "q35")
    refused(dict(other, domain=prefix + "nosuchguest"), "domain", "does not exist")
    volume = dict(domain=guest.name, volume=dict(pool=pool, name="v.img"))
    refused(dict(volume, volume=dict(pool=prefix + "nosuchpool", name="v.img")), "volume.pool", "does not exist")
    refused(dict(volume, volume=dict(pool=pool, name="nosuch.img")), "volume.name", "has no volume")
    refused(dict(volume, volume=dict(pool=stopped, name="v.img")), "volume.pool", "inactive")
    # new media never replace a data disk: the cdrom drive's target holds the disk held.img
    iso = path_args(guest.name, image(workdir, "media.iso"), device="cdrom", bus="virtio", dev="vda")
    refused(dict(iso, format="raw"), "disk.dev", "not a cdrom drive")


def test_a_volume_another_running_guest_writes_is_refused_unless_both_are_shareable(  # noqa: F811
        linux_guest, running_guest, workdir, prefix, pools):  # pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True)
    pool = prefix + "pool"
    make_dir_pool(pools, pool, workdir + "/pool")
    run_ok("storage_volume", dict(pool=pool, name="shared.img", capacity="4M", format="raw"))
    volume = dict(pool=pool, name="shared.img")
    run_ok("disk_attach", dict(domain=running_guest, volume=volume, disk=dict(bus="scsi", shareable=True)),
           changed=True)
    mine = dict(domain=guest.name, volume=volume, disk=dict(serial="Rshared"))

    assert_refused_changing_nothing(guest.name, mine, "disk.shareable", "running guest %s uses" % running_guest)

    def not_attached():
        assert serials(guest.name, "persistent") == {} and serials(guest.name, "live") == {}

    def shared():
        for scope in BOTH:
            assert disk_by_serial(guest.name, scope, "Rshared").find("shareable") is not None, scope

    six_steps("disk_attach", dict(mine, disk=dict(serial="Rshared", shareable=True)), not_attached, shared)


def test_a_live_change_libvirt_cannot_make_in_place_needs_allow_reattach(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True)
    args = attached_and_seen(guest, image(workdir, "re.img"), "Rbefore")

    msg = assert_refused_changing_nothing(guest.name, dict(args, disk=dict(serial="Rbefore", cache="none")),
                                          "allow_reattach", "disk.cache")
    assert "disk.serial" not in msg, msg
    assert_refused_changing_nothing(guest.name, dict(args, disk=dict(serial="Rafter")), "allow_reattach", "disk.serial")

    def serial_is(serial):
        def verify():
            for scope in BOTH:
                assert serials(guest.name, scope) == {serial: "vda"}, scope
        return verify

    since = guest.mark()
    six_steps("disk_attach", dict(args, disk=dict(serial="Rafter"), allow_reattach=True), serial_is("Rbefore"),
              serial_is("Rafter"))
    removed = guest.wait_for("REMOVE", "Rbefore", since, timeout=10)
    added = guest.wait_for("ADD", "Rafter", since)
    lines = guest.lines()
    assert lines.index(removed.line, since) < lines.index(added.line, since), "ADD before REMOVE"

    # a bus change: refused on the machine's missing bus, then made by a re-attach under a name of the new bus
    assert_refused_changing_nothing(guest.name, dict(args, disk=dict(serial="Rafter", bus="ide"), allow_reattach=True),
                                    "disk.bus", "q35")

    def on_scsi():
        for scope in BOTH:
            assert serials(guest.name, scope) == {"Rafter": "sda"}, scope

    since = guest.mark()
    six_steps("disk_attach", dict(args, disk=dict(serial="Rafter", bus="scsi"), allow_reattach=True),
              serial_is("Rafter"), on_scsi)
    guest.wait_for("REMOVE", "Rafter", since, timeout=10)
    assert guest.wait_for("ADD", "Rafter", since).fields["bus"] == "scsi"


# ---------------------------------------------------------------- 7. I/O limits, in place

def test_iotune_is_changed_in_place_on_a_running_guest(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True)
    args = attached_and_seen(guest, image(workdir, "tuned.img"), "Rtuned")
    where = placement(disk_by_serial(guest.name, "live", "Rtuned"))
    since = guest.mark()

    def limit_is(limit):
        def verify():
            assert block_io_tune(guest.name, "vda")["write_bytes_sec"] == limit
            persistent = disk_by_serial(guest.name, "persistent", "Rtuned").findtext("iotune/write_bytes_sec")
            assert int(persistent or 0) == limit
            assert placement(disk_by_serial(guest.name, "live", "Rtuned")) == where, "the disk was re-plugged"
        return verify

    real = six_steps("disk_attach", dict(args, disk=dict(serial="Rtuned", iotune=dict(write_bytes_sec=1048576))),
                     limit_is(0), limit_is(1048576))
    assert any(action.startswith("set the I/O limits of vda") for action in real["actions"]), real
    assert_no_hotplug_seen(guest, since)
