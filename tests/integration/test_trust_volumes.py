"""Regressions of issue 9 ("Trust") for volumes, each on the real libvirtd with real pools.

Each test reproduces one defect a user met: a rerun that failed, an import cut
off and then taken for done, a base replaced under its linked clones, a pool
that could not delete its partitions, a declared size the module could not keep,
a backing format that lied, and import records that outlived their volume. Data
is checked by checksums of the content, not by return codes.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

# pytest fixtures, used as test arguments
from .backends import loopdisk, loopfs  # noqa: F401  pylint: disable=unused-import
from .conftest import INSTALLED, assert_refused, run_module, run_ok, six_steps, virsh, warnings_of
from .test_volume_lifecycle import guests  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import (
    MIB, allocated, define_guest, make_dir_pool, parted_numbers, qemu_img_info, raw_sha256, sha256_file, vol_exists,
    vol_info, vol_names)


def write_pattern(path, size):
    """A raw image of ``size`` bytes of non-zero, non-repeating-block data (no holes: every block is sent)."""
    block = bytes(range(1, 256)) * 4112  # ~1 MiB, no zero byte
    with open(path, "wb") as handle:
        written = 0
        counter = 0
        while written < size:
            chunk = (counter.to_bytes(8, "big") + block)[:min(len(block) + 8, size - written)]
            handle.write(chunk)
            written += len(chunk)
            counter += 1
    os.chmod(path, 0o644)
    return path


# ---------------------------------------------------------------- 1. partition formats

@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_partition_format_linux_converges(label, loopdisk, prefix, pools):  # pylint: disable=redefined-outer-name
    """format: linux (the docs' own example) creates the partition and every later run is ok, not a failure.

    libvirt 9.0 reads every partition back as format 'none': an existing partition's format is not compared.
    """
    facts = loopdisk("256M")
    device, part = facts["LOOPDISK_DEVICE"], facts["LOOPDISK_PART_PREFIX"]
    pool = prefix + label
    pools.append(pool)
    run_ok("storage_pool", dict(name=pool, type="disk", state="active", target=dict(path="/dev"),
                                source=dict(devices=[dict(path=device)], format=label)))
    name = part + "1"

    def before():
        assert parted_numbers(device) == []

    def after():
        assert parted_numbers(device) == [1]
        assert name in vol_names(pool)

    real = six_steps("storage_volume", dict(pool=pool, name=name, capacity="40M", format="linux"), before, after)
    assert real["volume"]["path"] == "/dev/" + name, real["volume"]
    # the partition type parted wrote is linux's, whatever libvirt reads back
    out = subprocess.run(["parted", "-s", "-m", device, "print"], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1].startswith("1:"), out


# ---------------------------------------------------------------- 2. an import cut off

def _start_import(args):
    """Start storage_volume in a subprocess as Ansible would; return the process (its JSON on stdout)."""
    import json
    import tempfile
    payload = dict(args, _ansible_check_mode=False, _ansible_diff=True)
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    handle.close()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(INSTALLED))))
    proc = subprocess.Popen([sys.executable, os.path.join(INSTALLED, "plugins", "modules", "storage_volume.py"),
                             handle.name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.args_file = handle.name
    return proc


def _wait_for_allocation(path, least, proc, timeout=120):
    """Wait until the file at ``path`` holds ``least`` bytes (the upload is under way); fail if it ended first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and allocated(path) >= least:
            return allocated(path)
        assert proc.poll() is None, "the import ended before it could be cut off: %s" % (proc.communicate(),)
        time.sleep(0.01)
    raise AssertionError("the upload into %s never reached %d bytes" % (path, least))


def test_import_cut_off_is_imported_again(workdir, prefix, pools, imported):
    """The module killed in the middle of an import: the next run re-imports (checksum of the content), not 'ok'."""
    pool = prefix + "cut"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "cut"))
    source = write_pattern(os.path.join(workdir, "big.raw"), 768 * MIB)
    source_sha = sha256_file(source)
    path = os.path.join(target, "big.img")
    imported.append((pool, "big.img"))
    args = dict(pool=pool, name="big.img", format="raw",
                import_from=dict(src=source, checksum="sha256:" + source_sha))

    proc = _start_import(args)
    try:
        _wait_for_allocation(path, 64 * MIB, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        os.unlink(proc.args_file)
    assert vol_exists(pool, "big.img") or "big.img" in vol_names(pool)
    assert allocated(path) < 768 * MIB, "the import finished before the kill"
    assert sha256_file(path) != source_sha

    # check mode and the real run both say the import is redone; then the content is the source's
    planned = run_ok("storage_volume", args, check=True, changed=True)
    real = run_ok("storage_volume", args, changed=True)
    assert real["actions"] == planned["actions"] == [
        "re-import volume big.img from %s (the import into it did not finish)" % source], real["actions"]
    assert sha256_file(path) == source_sha
    for check in (True, False):
        again = run_ok("storage_volume", args, check=check, changed=False)
        assert warnings_of(again) == [], again


# ---------------------------------------------------------------- 3. a base under linked clones

def test_base_of_linked_clones_is_not_replaced(workdir, prefix, pools, imported):
    """reimport and allow_shrink of a volume that backs linked clones are refused naming them; data intact."""
    pool = prefix + "base"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "base"))
    one = write_pattern(os.path.join(workdir, "one.raw"), 32 * MIB)
    two = os.path.join(workdir, "two.raw")
    with open(two, "wb") as handle:
        handle.write(os.urandom(32 * MIB))
    base = dict(pool=pool, name="base.img", format="raw",
                import_from=dict(src=one, checksum="sha256:" + sha256_file(one)))
    imported.append((pool, "base.img"))
    run_ok("storage_volume", base, changed=True)
    base_path = os.path.join(target, "base.img")
    clones = []
    for index in range(3):
        name = "clone%d.qcow2" % index
        run_ok("storage_volume", dict(pool=pool, name=name, format="qcow2",
                                      backing_store=dict(name="base.img", format="raw")), changed=True)
        clones.append(name)
    clone_shas = [raw_sha256(os.path.join(target, name)) for name in clones]
    base_sha = sha256_file(base_path)

    replaced = dict(base, reimport=True, import_from=dict(src=two, checksum="sha256:" + sha256_file(two)))
    shrunk = dict(pool=pool, name="base.img", capacity="16M", allow_shrink=True)
    for args in (replaced, shrunk):
        for check in (True, False):
            refused = run_module("storage_volume", args, check=check)
            assert_refused(refused, "allow_in_use")
            for name in clones:
                assert "%s/%s" % (pool, name) in refused["msg"], refused["msg"]
            assert sha256_file(base_path) == base_sha
            assert [raw_sha256(os.path.join(target, name)) for name in clones] == clone_shas

    # with allow_in_use the user takes it on: the base is replaced
    run_ok("storage_volume", dict(replaced, allow_in_use=True), changed=True)
    assert sha256_file(base_path) == sha256_file(two)


# ---------------------------------------------------------------- 5. a disk pool removed with its partitions

def test_disk_pool_removed_with_its_partitions(loopdisk, prefix, pools):  # pylint: disable=redefined-outer-name
    """state: absent with delete_volumes on a loop device: every partition goes (libvirt 9.0 alone cannot)."""
    facts = loopdisk("256M")
    device, part = facts["LOOPDISK_DEVICE"], facts["LOOPDISK_PART_PREFIX"]
    pool = prefix + "rm"
    pools.append(pool)
    run_ok("storage_pool", dict(name=pool, type="disk", state="active", target=dict(path="/dev"),
                                source=dict(devices=[dict(path=device)], format="gpt")))
    for number in (1, 2):
        run_ok("storage_volume", dict(pool=pool, name="%s%d" % (part, number), capacity="32M"), changed=True)
    assert parted_numbers(device) == [1, 2]

    args = dict(name=pool, state="absent", delete_storage=True, delete_volumes=True)

    def before():
        assert parted_numbers(device) == [1, 2]

    def after():
        assert subprocess.run(["virsh", "-c", "qemu:///system", "pool-info", pool], capture_output=True,
                              check=False).returncode != 0
        assert not os.path.exists("/dev/%s1" % part)

    six_steps("storage_pool", args, before, after)


# ---------------------------------------------------------------- 6. capacity below an imported image

def test_import_with_a_smaller_capacity_converges(workdir, prefix, pools, imported):
    """capacity with import_from is the least size: the image's larger size is kept, and reruns are ok."""
    pool = prefix + "small"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "small"))
    image = os.path.join(workdir, "img.raw")
    with open(image, "wb") as handle:
        handle.truncate(96 * MIB)
        handle.seek(90 * MIB)
        handle.write(os.urandom(MIB))
    path = os.path.join(target, "vol.img")
    imported.append((pool, "vol.img"))
    args = dict(pool=pool, name="vol.img", capacity="32M", import_from=dict(src=image))

    def before():
        assert not os.path.exists(path)

    def after():
        assert vol_info(pool, "vol.img")["Capacity"] == 96 * MIB
        assert sha256_file(path) == sha256_file(image)

    six_steps("storage_volume", args, before, after)
    # a capacity above the image's still grows it
    grown = run_ok("storage_volume", dict(args, capacity="128M"), changed=True)
    assert grown["volume"]["capacity"] == 128 * MIB


# ---------------------------------------------------------------- 7. a backing format that contradicts the base

def test_backing_format_must_match_the_backing_volume(workdir, prefix, pools):
    """backing_store.format raw over a qcow2 base is refused naming both formats; nothing is created."""
    pool = prefix + "bfmt"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "bfmt"))
    run_ok("storage_volume", dict(pool=pool, name="base.qcow2", capacity="16M", format="qcow2"), changed=True)
    by_name = dict(pool=pool, name="over.qcow2", format="qcow2", backing_store=dict(name="base.qcow2", format="raw"))
    by_path = dict(by_name, backing_store=dict(path=os.path.join(target, "base.qcow2"), format="raw"))
    for args in (by_name, by_path):
        for check in (True, False):
            refused = run_module("storage_volume", args, check=check)
            assert_refused(refused, "backing_store.format", "qcow2")
            assert "raw" in refused["msg"], refused["msg"]
            assert not os.path.exists(os.path.join(target, "over.qcow2"))
    right = run_ok("storage_volume", dict(by_name, backing_store=dict(name="base.qcow2", format="qcow2")),
                   changed=True)
    info = qemu_img_info(right["volume"]["path"])
    assert info["backing-filename-format"] == "qcow2", info


# ---------------------------------------------------------------- 8. import records die with their volume

def test_import_records_do_not_outlive_their_volume(workdir, prefix, pools, imported):
    """After the pool (or the volume, outside the module) is deleted and made again, an import is not a no-op."""
    pool = prefix + "stale"
    pool_path = os.path.join(workdir, "stale")
    image = write_pattern(os.path.join(workdir, "img.raw"), 8 * MIB)
    checksum = "sha256:" + sha256_file(image)
    args = dict(pool=pool, name="vol.img", import_from=dict(src=image, checksum=checksum))
    path = os.path.join(pool_path, "vol.img")

    def recreate_empty():
        run_ok("storage_volume", dict(pool=pool, name="vol.img", capacity="8M"), changed=True)
        assert sha256_file(path) != sha256_file(image)

    def reimported_only_with_the_flag():
        for check in (True, False):
            kept = run_ok("storage_volume", args, check=check, changed=False)
            (warning,) = warnings_of(kept)
            assert "no import into it is recorded" in warning and "reimport: true" in warning, warning
        run_ok("storage_volume", dict(args, reimport=True), changed=True)
        assert sha256_file(path) == sha256_file(image)
        run_ok("storage_volume", args, changed=False)

    # the pool deleted with its volumes and made again
    make_dir_pool(pools, pool, pool_path)
    run_ok("storage_volume", args, changed=True)
    run_ok("storage_pool", dict(name=pool, state="absent", delete_storage=True, delete_volumes=True), changed=True)
    make_dir_pool(pools, pool, pool_path)
    imported.append((pool, "vol.img"))
    recreate_empty()
    reimported_only_with_the_flag()

    # the volume deleted outside the module (virsh) and made again
    virsh("vol-delete", "--pool", pool, "vol.img")
    recreate_empty()
    reimported_only_with_the_flag()


# ---------------------------------------------------------------- 10. sizes the host cannot hold

def test_capacity_the_host_cannot_hold(loopfs, loopdisk, workdir, prefix, pools):  # pylint: disable=redefined-outer-name
    """1E on ext4, 1E as qcow2 with 64 KiB clusters, 1G of a 256M disk: check mode fails as the real run would."""
    fs_device = loopfs("ext4", "64M")["LOOPFS_DEVICE"]
    fs_pool, fs_target = prefix + "ext4", os.path.join(workdir, "ext4")
    pools.append(fs_pool)
    run_ok("storage_pool", dict(name=fs_pool, type="fs", state="active", target=dict(path=fs_target),
                                source=dict(devices=[dict(path=fs_device)], format="ext4")))
    disk = loopdisk("256M")
    disk_pool = prefix + "disk"
    pools.append(disk_pool)
    run_ok("storage_pool", dict(name=disk_pool, type="disk", state="active", target=dict(path="/dev"),
                                source=dict(devices=[dict(path=disk["LOOPDISK_DEVICE"])], format="gpt")))
    cases = [
        (dict(pool=fs_pool, name="raw.img", capacity="1E"), "a file on the filesystem of %s" % fs_target),
        (dict(pool=fs_pool, name="big.qcow2", capacity="1E", format="qcow2"), "64 KiB clusters"),
        (dict(pool=disk_pool, capacity="1G"), "free"),
    ]
    for args, words in cases:
        for check in (True, False):
            refused = run_module("storage_volume", args, check=check)
            assert_refused(refused, "capacity", words)
            assert "1 " in refused["msg"], refused["msg"]
    assert sorted(vol_names(fs_pool)) == ["lost+found"]
    assert parted_numbers(disk["LOOPDISK_DEVICE"]) == []
    # what the host can hold is made: a 1 EiB qcow2 with 2 MiB clusters, the largest raw file ext4 holds
    # ((2**32 - 1) blocks: 16 TiB - 4 KiB with 4 KiB blocks, 4 TiB - 1 KiB on this small filesystem's 1 KiB
    # blocks); a byte more is refused
    largest = (2 ** 32 - 1) * os.statvfs(fs_target).f_bsize
    refused = run_module("storage_volume", dict(pool=fs_pool, name="raw.img", capacity=largest + 1))
    assert_refused(refused, "capacity", str(largest))
    for args in (dict(pool=fs_pool, name="big.qcow2", capacity="1E", format="qcow2", cluster_size="2M"),
                 dict(pool=fs_pool, name="raw.img", capacity=largest)):
        made = run_ok("storage_volume", args, changed=True)
        expected = 2 ** 60 if "cluster_size" in args else largest
        assert made["volume"]["capacity"] == expected, made["volume"]


# ---------------------------------------------------------------- clones keep their source's format and size

def test_clone_keeps_the_format_and_size_of_its_source(workdir, prefix, pools):
    """A qcow2 cloned without a format is a qcow2 (libvirt alone makes it raw); a capacity below the source's is the
    least size: the clone has the source's, and reruns change nothing (no shrink of the new clone is planned)."""
    pool = prefix + "clone"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "clone"))
    run_ok("storage_volume", dict(pool=pool, name="base.qcow2", capacity="64M", format="qcow2"), changed=True)
    args = dict(pool=pool, name="copy.qcow2", capacity="32M", clone_from=dict(name="base.qcow2"))
    path = os.path.join(target, "copy.qcow2")

    def before():
        assert not os.path.exists(path)

    def after():
        info = qemu_img_info(path)
        assert info["format"] == "qcow2" and info["virtual-size"] == 64 * MIB, info

    real = six_steps("storage_volume", args, before, after)
    assert real["diff"]["after"]["format"] == "qcow2" and real["diff"]["after"]["capacity"] == 64 * MIB, real["diff"]


# ---------------------------------------------------------------- a pool's delete_volumes spares what others use

def test_pool_delete_volumes_spares_volumes_in_use(workdir, prefix, pools, guests):  # pylint: disable=redefined-outer-name
    """delete_volumes is refused while a guest uses a volume of the pool or another pool's clone is over one."""
    pool, other = prefix + "src", prefix + "other"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "src"))
    make_dir_pool(pools, other, os.path.join(workdir, "other"))
    for name in ("base.img", "disk.img"):
        run_ok("storage_volume", dict(pool=pool, name=name, capacity="8M"), changed=True)
        with open(os.path.join(target, name), "r+b") as handle:
            handle.write(os.urandom(MIB))
    run_ok("storage_volume", dict(pool=other, name="clone.qcow2", format="qcow2",
                                  backing_store=dict(pool=pool, name="base.img", format="raw")), changed=True)
    guest = prefix + "guest"
    guests.append(guest)
    define_guest(guest, [{"file": os.path.join(target, "disk.img")}])
    shas = dict((name, sha256_file(os.path.join(target, name))) for name in ("base.img", "disk.img"))

    args = dict(name=pool, state="absent", delete_storage=True, delete_volumes=True)
    for check in (True, False):
        refused = run_module("storage_pool", args, check=check)
        assert_refused(refused, "allow_in_use", guest)
        assert "%s/clone.qcow2" % other in refused["msg"], refused["msg"]
        assert dict((name, sha256_file(os.path.join(target, name))) for name in shas) == shas
        assert virsh("pool-info", pool).count("running") == 1

    done = run_ok("storage_pool", dict(args, allow_in_use=True), changed=True)
    assert done["diff"]["after"]["volumes"] == "deleted", done["diff"]
    assert not os.path.exists(target)
