"""Issue 9 ("Trust"), destructive operations: nothing is lost without its flag, and with it the work is done.

Every destructive operation of the collection is run first without its flag, in
check mode and in the real run: it must fail, the message must name the flag,
the data must be intact by checksum of its content and the host unchanged as
virsh, parted, blkid and /proc/mounts show it. Then it runs with its flag in the
six steps of ``six_steps`` and the host shows that it was really done: the new
label or filesystem on the device, the volume or pool gone, zeros or the new
image in the volume.
"""

import os
import subprocess

import pytest

# pytest fixtures, used as test arguments
from .backends import loop_device, loopdisk  # noqa: F401  pylint: disable=unused-import
from .conftest import assert_refused, define_secret, pool_exists, pool_info, run_module, run_ok, six_steps, virsh, warnings_of
from .test_pool_lifecycle import assert_running, disk_args, fs_args
from .test_volume_lifecycle import guests, secrets  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import (
    MIB, define_guest, host_state, make_dir_pool, mount_points, parted_numbers, pool_definition, raw_sha256,
    reads_as_zeros, sha256_file, signatures, vol_exists, vol_info, vol_names, write_random)

# pylint: disable=redefined-outer-name  # pytest fixtures are test arguments


# ---------------------------------------------------------------- helpers

def snapshot(prefix, devices=(), contents=None):
    """Return a check that the host (``host_state``) and every content are still as they are now.

    ``contents`` maps a path to the function that hashes its content (``sha256_file``, or
    ``raw_sha256`` for what a guest reads of a qcow2 image).
    """
    contents = contents or {}
    state = host_state(prefix, devices)
    sums = dict((path, digest(path)) for path, digest in contents.items())

    def verify():
        assert dict((path, digest(path)) for path, digest in contents.items()) == sums, "content changed"
        assert host_state(prefix, devices) == state
    return verify


def refused_both_ways(module, args, flag, intact, *fragments):
    """Without ``flag`` the task fails naming it, in check mode and in the real run; ``intact()`` after each."""
    for check in (True, False):
        result = run_module(module, args, check=check)
        assert_refused(result, flag)
        for fragment in fragments:
            assert fragment in result["msg"], (fragment, result["msg"])
        intact()


def raw_volume(pool, name, size_mib, offsets_mib, fmt="raw"):
    """Create a volume of ``size_mib`` MiB with storage_volume and write 1 MiB of random data at each offset.

    ``fmt`` None: the pool type's default (a disk pool's partitions have partition types, not raw).
    """
    args = dict(pool=pool, name=name, capacity="%dM" % size_mib)
    if fmt:
        args["format"] = fmt
    created = run_ok("storage_volume", args, changed=True)
    path = created["volume"]["path"]
    write_random(path, offsets_mib)
    return path


# ---------------------------------------------------------------- 1, 2. building over data (overwrite)

def blkid_label(parted_label):
    """The name blkid (and the module's message) gives the partition table parted calls ``parted_label``."""
    return "dos" if parted_label == "msdos" else parted_label


@pytest.mark.parametrize("label, declared", [("msdos", "disk"), ("gpt", "fs")])
def test_build_over_a_labelled_disk(label, declared, loopdisk, workdir, prefix, pools):
    """A disk with a partition table and a partition holding data, declared as a gpt disk pool or an ext4 fs pool.

    Without overwrite: refused, the disk intact byte for byte. With it: the new label or filesystem is there.
    """
    facts = loopdisk("64M")
    device, partition = facts["LOOPDISK_DEVICE"], "/dev/" + facts["LOOPDISK_FIRST_VOLUME"]
    subprocess.run(["parted", "-s", device, "mklabel", label, "mkpart", "primary", "1MiB", "33MiB"],
                   check=True, capture_output=True)
    write_random(partition, [0, 16, 31])
    name = prefix + declared
    pools.append(name)
    target = os.path.join(workdir, "fs")
    args = disk_args(name, device) if declared == "disk" else fs_args(name, device, target)  # gpt, ext4
    old = sha256_file(device)
    intact = snapshot(prefix, [device, partition], {device: sha256_file, partition: sha256_file})

    refused_both_ways("storage_pool", args, "overwrite", intact, device, facts["LOOPDISK_FIRST_VOLUME"])
    assert not pool_exists(name)

    def built():
        assert_running(name)
        assert sha256_file(device) != old
        if declared == "disk":
            assert signatures(device).get("PTTYPE") == "gpt", signatures(device)
            assert parted_numbers(device) == []
            assert not os.path.exists(partition)
        else:
            assert signatures(device).get("TYPE") == "ext4", signatures(device)
            assert mount_points(device) == [target]
            assert os.listdir(target) == ["lost+found"]

    real = six_steps("storage_pool", dict(args, overwrite=True), intact, built)
    assert any("destroying a %s partition table" % blkid_label(label) in action
               for action in real["actions"]), real["actions"]


def test_fs_build_over_another_filesystem(loop_device, workdir, prefix, pools):
    """An ext3 filesystem holding files, declared as an ext4 fs pool: refused without overwrite, files intact."""
    device = loop_device("64M")
    subprocess.run(["mkfs.ext3", "-q", "-F", device], check=True, capture_output=True)
    mounted = os.path.join(workdir, "old")
    os.mkdir(mounted)
    subprocess.run(["mount", device, mounted], check=True, capture_output=True)
    try:
        for index in range(3):
            write_random(os.path.join(mounted, "file%d" % index), [0], size=2 * MIB)
    finally:
        subprocess.run(["umount", mounted], check=True, capture_output=True)
    name = prefix + "fs"
    pools.append(name)
    target = os.path.join(workdir, "fs")
    args = fs_args(name, device, target)
    intact = snapshot(prefix, [device], {device: sha256_file})

    refused_both_ways("storage_pool", args, "overwrite", intact, device, "ext3 filesystem")
    assert not pool_exists(name)

    def built():
        assert_running(name)
        assert signatures(device).get("TYPE") == "ext4", signatures(device)
        assert mount_points(device) == [target]
        assert os.listdir(target) == ["lost+found"]

    real = six_steps("storage_pool", dict(args, overwrite=True), intact, built)
    assert any("destroying a ext3 filesystem" in action for action in real["actions"]), real["actions"]


# ---------------------------------------------------------------- 3, 4. removing pools (delete_storage, delete_volumes)

def _dir_pool_with_volumes(pools, name, workdir, state):
    """A dir pool in ``state`` holding two raw volumes with data; (paths of the volumes, devices to watch).

    ``state`` hidden: a running pool whose only entry is a hidden file the user put there, which
    libvirt lists as a volume like any other file (as it does subdirectories).
    """
    directory = make_dir_pool(pools, name, os.path.join(workdir, "dir"))
    if state == "hidden":
        hidden = write_random(os.path.join(directory, ".keep"), [0], size=MIB)
        assert vol_names(name) == [".keep"]  # after a refresh: libvirt lists it
        return [hidden], []
    paths = [raw_volume(name, "vol%d.img" % index, 8, [0, 4]) for index in (1, 2)]
    if state == "inactive":
        run_ok("storage_pool", dict(name=name, state="inactive"), changed=True)
    return paths, []


def _disk_pool_with_volumes(pools, name, device, part):
    """A gpt disk pool on ``device`` holding two partitions with data; (their paths, devices to watch)."""
    pools.append(name)
    run_ok("storage_pool", disk_args(name, device), changed=True)
    paths = [raw_volume(name, "%s%d" % (part, number), 16, [0, 8], fmt=None) for number in (1, 2)]
    return paths, [device]


@pytest.mark.parametrize("kind", ["dir-active", "dir-inactive", "dir-hidden", "disk"])
def test_pool_removed_with_its_volumes(kind, loopdisk, workdir, prefix, pools):
    """delete_storage of a pool holding volumes: refused without delete_volumes (check mode too), volumes intact."""
    name = prefix + kind
    if kind == "disk":
        facts = loopdisk("128M")
        paths, devices = _disk_pool_with_volumes(pools, name, facts["LOOPDISK_DEVICE"], facts["LOOPDISK_PART_PREFIX"])
    else:
        paths, devices = _dir_pool_with_volumes(pools, name, workdir, kind.split("-")[1])
    intact = snapshot(prefix, devices, dict((path, sha256_file) for path in paths))
    args = dict(name=name, state="absent", delete_storage=True)

    # check mode must refuse as the real run does, not report a plan the real run then fails on
    refused_both_ways("storage_pool", args, "delete_volumes", intact, *[os.path.basename(p) for p in paths])

    def deleted():
        assert not pool_exists(name)
        for path in paths:
            assert not os.path.exists(path)
        if kind == "disk":
            assert "PTTYPE" not in signatures(devices[0]), signatures(devices[0])
        else:
            assert not os.path.exists(os.path.dirname(paths[0]))

    real = six_steps("storage_pool", dict(args, delete_volumes=True), intact, deleted)
    assert "delete every volume of pool %s" % name in real["actions"], real["actions"]


def test_dir_pool_absent_keeps_its_storage_without_delete_storage(workdir, prefix, pools):
    """state: absent alone undefines a pool and keeps its directory and files; delete_storage removes the directory."""
    name = prefix + "keep"
    paths, dummy = _dir_pool_with_volumes(pools, name, workdir, "active")
    directory = os.path.dirname(paths[0])
    sums = [sha256_file(path) for path in paths]
    intact = snapshot(prefix, [], dict((path, sha256_file) for path in paths))

    def undefined():
        assert not pool_exists(name)
        assert [sha256_file(path) for path in paths] == sums
        assert sorted(os.listdir(directory)) == ["vol1.img", "vol2.img"]

    six_steps("storage_pool", dict(name=name, state="absent"), intact, undefined)
    # the data is still usable: the same pool defined again lists it
    make_dir_pool(pools, name, directory)
    assert vol_names(name) == ["vol1.img", "vol2.img"]
    assert [sha256_file(path) for path in paths] == sums

    # an empty dir pool: delete_storage is the flag, with it the directory goes
    empty = prefix + "empty"
    empty_dir = make_dir_pool(pools, empty, os.path.join(workdir, "empty"))

    def deleted():
        assert not pool_exists(empty)
        assert not os.path.exists(empty_dir)

    def kept():
        assert_running(empty)
        assert os.path.isdir(empty_dir)

    real = six_steps("storage_pool", dict(name=empty, state="absent", delete_storage=True), kept, deleted)
    assert "delete the underlying storage of pool %s" % empty in real["actions"], real["actions"]


# ---------------------------------------------------------------- 5, 6. shrinking and wiping volumes

def test_volume_shrink_keeps_the_data_within_the_new_size(workdir, prefix, pools):
    """Shrinking 32 -> 16 MiB: refused without allow_shrink; with it the first 16 MiB are intact by checksum."""
    pool = prefix + "shrink"
    make_dir_pool(pools, pool, os.path.join(workdir, "shrink"))
    path = raw_volume(pool, "vol.img", 32, [2, 15, 24])  # within the new size, at its end, beyond it
    head = os.path.join(workdir, "head.raw")
    with open(path, "rb") as source, open(head, "wb") as copy:
        copy.write(source.read(16 * MIB))
    kept = sha256_file(head)
    args = dict(pool=pool, name="vol.img", capacity="16M")
    intact = snapshot(prefix, [], {path: sha256_file})

    refused_both_ways("storage_volume", args, "allow_shrink", intact)
    assert vol_info(pool, "vol.img")["Capacity"] == 32 * MIB

    def shrunk():
        assert vol_info(pool, "vol.img")["Capacity"] == 16 * MIB
        assert os.path.getsize(path) == 16 * MIB
        assert sha256_file(path) == kept

    real = six_steps("storage_volume", dict(args, allow_shrink=True), intact, shrunk)
    assert real["actions"] == ["shrink volume vol.img from 32 MiB to 16 MiB (%d -> %d bytes)" % (32 * MIB, 16 * MIB)], \
        real["actions"]


def test_volume_wipe_only_with_wipe_and_not_under_a_guest(workdir, prefix, pools, guests):
    """Without wipe the data stays; wipe of a volume a defined guest uses needs allow_in_use; then it reads as zeros."""
    pool = prefix + "wipe"
    make_dir_pool(pools, pool, os.path.join(workdir, "wipe"))
    path = raw_volume(pool, "vol.img", 16, [0, 8, 15])
    args = dict(pool=pool, name="vol.img", capacity="16M")
    intact = snapshot(prefix, [], {path: sha256_file})
    for check in (True, False):
        run_ok("storage_volume", args, check=check, changed=False)
        intact()

    guest = prefix + "guest"
    guests.append(guest)
    define_guest(guest, [{"file": path}])
    intact = snapshot(prefix, [], {path: sha256_file})
    refused_both_ways("storage_volume", dict(args, wipe=True), "allow_in_use", intact, guest)

    def wiped():
        assert reads_as_zeros(path)
        assert vol_info(pool, "vol.img")["Capacity"] == 16 * MIB
        assert guest in virsh("list", "--all", "--name").split()

    six_steps("storage_volume", dict(args, wipe=True, allow_in_use=True), intact, wiped)


# ---------------------------------------------------------------- 7. replacing an imported volume's content

def test_volume_reimport_only_with_reimport_and_not_under_a_guest(workdir, prefix, pools, guests, imported):
    """A changed checksum keeps the content (a warning names reimport); reimport of a guest's volume needs
    allow_in_use; with both the content is the new image's."""
    pool = prefix + "reimp"
    make_dir_pool(pools, pool, os.path.join(workdir, "reimp"))
    one, two = (write_random(os.path.join(workdir, name), [0, 3], size=4 * MIB) for name in ("one.raw", "two.raw"))
    imported.append((pool, "vol.img"))

    def args_of(image):
        return dict(pool=pool, name="vol.img", format="raw",
                    import_from=dict(src=image, checksum="sha256:" + sha256_file(image)))

    path = run_ok("storage_volume", args_of(one), changed=True)["volume"]["path"]
    assert sha256_file(path) == sha256_file(one)
    intact = snapshot(prefix, [], {path: sha256_file})
    for check in (True, False):
        kept = run_ok("storage_volume", args_of(two), check=check, changed=False)
        assert any("reimport: true" in warning for warning in warnings_of(kept)), kept
        intact()

    guest = prefix + "guest"
    guests.append(guest)
    define_guest(guest, [{"pool": pool, "volume": "vol.img"}])
    intact = snapshot(prefix, [], {path: sha256_file})
    refused_both_ways("storage_volume", dict(args_of(two), reimport=True), "allow_in_use", intact, guest)

    def replaced():
        assert sha256_file(path) == sha256_file(two)

    six_steps("storage_volume", dict(args_of(two), reimport=True, allow_in_use=True), intact, replaced)


# ---------------------------------------------------------------- 8. deleting a volume in use

def test_volume_delete_under_a_defined_guest(workdir, prefix, pools, guests):
    """Deleting a volume a defined (stopped) guest uses: refused without allow_in_use naming the guest."""
    pool = prefix + "del"
    make_dir_pool(pools, pool, os.path.join(workdir, "del"))
    path = raw_volume(pool, "vol.img", 8, [0, 7])
    guest = prefix + "guest"
    guests.append(guest)
    define_guest(guest, [{"file": path}])
    args = dict(pool=pool, name="vol.img", state="absent")
    intact = snapshot(prefix, [], {path: sha256_file})

    refused_both_ways("storage_volume", args, "allow_in_use", intact, guest)

    def deleted():
        assert not vol_exists(pool, "vol.img") and not os.path.exists(path)
        assert guest in virsh("list", "--all", "--name").split()

    six_steps("storage_volume", dict(args, allow_in_use=True), intact, deleted)


def test_volume_delete_under_a_linked_clone(workdir, prefix, pools):
    """Deleting the base of a linked clone: refused without allow_in_use, base and clone intact by checksum."""
    pool = prefix + "base"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "base"))
    base = raw_volume(pool, "base.img", 8, [0, 5])
    run_ok("storage_volume", dict(pool=pool, name="clone.qcow2", format="qcow2",
                                  backing_store=dict(name="base.img", format="raw")), changed=True)
    clone = os.path.join(target, "clone.qcow2")
    assert raw_sha256(clone) == sha256_file(base)
    args = dict(pool=pool, name="base.img", state="absent")
    intact = snapshot(prefix, [], {base: sha256_file, clone: raw_sha256})

    refused_both_ways("storage_volume", args, "allow_in_use", intact, "clone.qcow2")

    def deleted():
        assert not vol_exists(pool, "base.img") and not os.path.exists(base)
        assert os.path.exists(clone)

    six_steps("storage_volume", dict(args, allow_in_use=True), intact, deleted)


# ---------------------------------------------------------------- 9. removing a secret a pool uses

def test_secret_absent_while_a_pool_uses_it(prefix, pools, secrets):
    """Removing the CHAP secret of a defined iscsi-direct pool: refused without allow_in_use; secret and pool stay."""
    usage = prefix + "chap"
    secret_uuid = define_secret("iscsi", usage, "chap-password")
    secrets.append(secret_uuid)
    name = prefix + "san"
    pools.append(name)
    run_ok("storage_pool", dict(
        name=name, type="iscsi-direct", state="present",
        source=dict(hosts=[dict(name="127.0.0.1", port=3260)],
                    devices=[dict(path="iqn.2024-01.invalid.virtops:target")],
                    initiator_iqn="iqn.2024-01.invalid.virtops:initiator",
                    auth=dict(type="chap", username="virtops", secret=dict(usage=usage)))), changed=True)
    definition = pool_definition(name)
    args = dict(usage_type="iscsi", usage_id=usage, state="absent")
    intact = snapshot(prefix)
    assert secret_uuid in virsh("secret-list")

    refused_both_ways("storage_secret", args, "allow_in_use", intact, name)

    def removed():
        assert secret_uuid not in virsh("secret-list")
        assert pool_info(name)["State"] == "inactive"
        assert pool_definition(name) == definition

    six_steps("storage_secret", dict(args, allow_in_use=True), intact, removed)
