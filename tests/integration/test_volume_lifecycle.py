"""Lifecycle of real storage volumes: storage_volume and storage_volume_info against libvirtd.

Every change runs the six steps of ``six_steps`` (check mode, real run, check
mode again and real run again, which must change nothing) and checks the host
after each step with virsh (vol-info, vol-dumpxml), qemu-img, stat (allocated
blocks), parted and sha256 of the content. Pools are real: dir pools in a
temporary directory, fs pools on a loop device and a disk pool on a
partition-scanned loop device. Every pool, volume, secret, guest and HTTP
server a test makes is removed afterwards, whatever happened.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

# pytest fixtures, used as test arguments
from .backends import loopdisk, loopfs  # noqa: F401  pylint: disable=unused-import
from .conftest import assert_failed, run_module, run_ok, six_steps, virsh, warnings_of
from .volume_helpers import (
    MIB, allocated, define_guest, define_volume_secret, http_server, make_dir_pool, parted_numbers,
    qemu_img_info, raw_sha256, reads_as_zeros, sha256_file, undefine_guest, undefine_secret, vol_exists, vol_info,
    vol_names, vol_xml, write_random)


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def guests():
    """Names of guests a test defines; undefined afterwards."""
    made = []
    yield made
    for name in made:
        undefine_guest(name)


@pytest.fixture
def secrets():
    """UUIDs of secrets a test defines; undefined afterwards."""
    made = []
    yield made
    for secret_uuid in made:
        undefine_secret(secret_uuid)


@pytest.fixture
def images():
    """A 0755 temporary directory of source images: 256M sparse raw images and a qcow2 of the first.

    ``one.raw`` has 2 MiB of random data at 3, 100 and 200 MiB, ``two.raw`` at 50 and 150 MiB;
    ``one.qcow2`` is ``one.raw`` converted. Returns a dict of paths, their sha256 and the directory.
    """
    directory = tempfile.mkdtemp(prefix="virtops-images-")
    os.chmod(directory, 0o755)
    try:
        one = write_random(os.path.join(directory, "one.raw"), [3, 100, 200], 2, size=256 * MIB)
        two = write_random(os.path.join(directory, "two.raw"), [50, 150], 2, size=256 * MIB)
        qcow2 = os.path.join(directory, "one.qcow2")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", one, qcow2], check=True,
                       capture_output=True)
        for path in (one, two, qcow2):
            os.chmod(path, 0o644)
        yield dict(dir=directory, one=one, two=two, qcow2=qcow2, one_sha=sha256_file(one),
                   two_sha=sha256_file(two), qcow2_sha=sha256_file(qcow2))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def http_images(images):
    """The ``images`` directory served over HTTP on 127.0.0.1 (a free port); (base URL, images)."""
    with http_server(images["dir"]) as url:
        yield url, images


def fs_pool(loopfs, workdir, pools, name):  # pylint: disable=redefined-outer-name
    """An active fs pool on a new 256M ext4 loop device, defined and mounted by storage_pool; its target path."""
    device = loopfs("ext4", "256M")["LOOPFS_DEVICE"]
    target = os.path.join(workdir, name)
    pools.append(name)
    result = run_module("storage_pool", dict(name=name, type="fs", state="active", target=dict(path=target),
                                             source=dict(devices=[dict(path=device)], format="ext4")))
    assert not result.get("failed") and result["pool"]["active"], result
    with open("/proc/mounts") as handle:
        assert any(line.split()[:2] == [device, target] for line in handle), "%s not mounted on %s" % (device, target)
    return target


@pytest.fixture(params=["dir", "fs"])
def file_pool(request, loopfs, workdir, prefix, pools):  # pylint: disable=redefined-outer-name
    """(name, target path) of an active file pool: a dir pool, or an fs pool on an ext4 loop device."""
    name = prefix + request.param
    if request.param == "dir":
        return name, make_dir_pool(pools, name, os.path.join(workdir, "dir"))
    return name, fs_pool(loopfs, workdir, pools, name)


# ---------------------------------------------------------------- small checks

def volume(pool, name, **args):
    """storage_volume arguments for volume ``name`` of ``pool``."""
    return dict(args, pool=pool, name=name)


def assert_absent(pool, name, path=None):
    assert name not in vol_names(pool), vol_names(pool)
    if path:
        assert not os.path.exists(path), path


def assert_file_volume(pool, name, path, fmt, capacity):
    """libvirt and qemu-img agree that ``path`` is a ``fmt`` volume of ``capacity`` bytes."""
    assert name in vol_names(pool)
    xml = vol_xml(pool, name)
    assert xml.findtext("target/path") == path
    assert xml.find("target/format").get("type") == fmt
    assert vol_info(pool, name)["Capacity"] == capacity
    image = qemu_img_info(path)
    assert image["format"] == fmt, image
    assert image["virtual-size"] == capacity, image
    return image


# ---------------------------------------------------------------- 1. create on file pools

def test_file_pool_create_raw_qcow2_preallocated(file_pool):
    """raw and qcow2 volumes, sparse; falloc reserves the whole capacity; metadata preallocates qcow2 clusters."""
    pool, target = file_pool
    size = 64 * MIB

    # raw, sparse
    raw = os.path.join(target, "disk.img")

    def raw_after():
        assert_file_volume(pool, "disk.img", raw, "raw", size)
        assert os.path.getsize(raw) == size
        assert allocated(raw) < MIB, allocated(raw)

    real = six_steps("storage_volume", volume(pool, "disk.img", capacity="64M"),
                     lambda: assert_absent(pool, "disk.img", raw), raw_after)
    assert real["actions"] == ["create volume disk.img in pool %s (64 MiB; %d bytes)" % (pool, size)], real["actions"]
    facts = real["volume"]
    assert facts["path"] == raw and facts["format"] == "raw" and facts["capacity"] == size, facts
    assert facts["pool_type"] == ("fs" if pool.endswith("fs") else "dir"), facts
    assert facts["disk"]["source"] == {"file": raw} and facts["disk"]["driver"]["type"] == "raw", facts
    assert 'source file="%s"' % raw in facts["disk_xml"], facts["disk_xml"]

    # qcow2, sparse
    qcow2 = os.path.join(target, "disk.qcow2")

    def qcow2_after():
        image = assert_file_volume(pool, "disk.qcow2", qcow2, "qcow2", size)
        assert "backing-filename" not in image, image
        assert os.path.getsize(qcow2) < MIB and allocated(qcow2) < MIB, (os.path.getsize(qcow2), allocated(qcow2))

    real = six_steps("storage_volume", volume(pool, "disk.qcow2", capacity="64M", format="qcow2"),
                     lambda: assert_absent(pool, "disk.qcow2", qcow2), qcow2_after)
    assert real["actions"] == ["create volume disk.qcow2 in pool %s (64 MiB, qcow2; %d bytes)" % (pool, size)]
    assert real["volume"]["disk"]["driver"]["type"] == "qcow2", real["volume"]

    # raw, falloc: allocation == capacity, in libvirt and on the file system (libvirt counts st_blocks, which
    # on ext4 with 1 KiB blocks also holds the file's extent index block: a few KiB over the capacity)
    full = os.path.join(target, "full.img")

    def falloc_after():
        assert_file_volume(pool, "full.img", full, "raw", size)
        assert size <= vol_info(pool, "full.img")["Allocation"] < size + 64 * 1024, vol_info(pool, "full.img")
        assert size <= allocated(full) < size + 64 * 1024, allocated(full)

    real = six_steps("storage_volume", volume(pool, "full.img", capacity="64M", preallocation="falloc"),
                     lambda: assert_absent(pool, "full.img", full), falloc_after)
    assert size <= real["volume"]["allocation"] < size + 64 * 1024, real["volume"]

    # qcow2, metadata: every cluster mapped (qemu-img map shows an offset), the file spans the capacity
    meta = os.path.join(target, "meta.qcow2")

    def metadata_after():
        assert_file_volume(pool, "meta.qcow2", meta, "qcow2", size)
        assert os.path.getsize(meta) >= size, os.path.getsize(meta)
        mapping = subprocess.run(["qemu-img", "map", "-U", "--output=json", meta], capture_output=True, text=True,
                                 check=True).stdout
        assert '"offset"' in mapping and '"present": false' not in mapping, mapping

    six_steps("storage_volume", volume(pool, "meta.qcow2", capacity="64M", format="qcow2",
                                       preallocation="metadata"),
              lambda: assert_absent(pool, "meta.qcow2", meta), metadata_after)
    # the plain qcow2 above has no cluster mapped
    plain = subprocess.run(["qemu-img", "map", "-U", "--output=json", qcow2], capture_output=True, text=True,
                           check=True).stdout
    assert '"offset"' not in plain, plain


# ---------------------------------------------------------------- 1+2. disk pool: partitions

def test_disk_pool_partitions(loopdisk, prefix, pools):
    """Partitions named by the module, a wrong name refused before parted, no resize, rounding, loopNpM deletion."""
    facts = loopdisk("256M")
    device, part = facts["LOOPDISK_DEVICE"], facts["LOOPDISK_PART_PREFIX"]
    pool = prefix + "disk"
    pools.append(pool)
    run_ok("storage_pool", dict(name=pool, type="disk", state="active", target=dict(path="/dev"),
                                source=dict(devices=[dict(path=device)], format="gpt")))
    assert parted_numbers(device) == []

    # no name: the module picks the next partition name, and every run makes a new partition (documented)
    for number in (1, 2):
        result = run_ok("storage_volume", dict(pool=pool, capacity="32M"), changed=True)
        assert result["volume"]["name"] == "%s%d" % (part, number), result["volume"]
        assert result["actions"] == ["create volume %s%d in pool %s (32 MiB; %d bytes)" % (part, number, pool, 32 * MIB)]
        assert parted_numbers(device) == list(range(1, number + 1))
        assert os.path.exists("/dev/%s%d" % (part, number))

    # the next name given explicitly: six steps
    third = part + "3"

    def third_after():
        assert third in vol_names(pool)
        assert parted_numbers(device) == [1, 2, 3]
        info = vol_info(pool, third)
        assert info["Type"] == "block" and 64 * MIB <= info["Capacity"] < 72 * MIB, info
        assert vol_xml(pool, third).findtext("target/path") == "/dev/" + third

    def third_before():
        assert parted_numbers(device) == [1, 2]
        assert third not in vol_names(pool)

    real = six_steps("storage_volume", dict(pool=pool, name=third, capacity="64M"), third_before, third_after)
    disk = real["volume"]["disk"]
    assert disk["type"] == "block" and disk["source"] == {"dev": "/dev/" + third}, disk
    assert disk["driver"]["type"] == "raw", disk
    assert 'source dev="/dev/%s"' % third in real["volume"]["disk_xml"], real["volume"]["disk_xml"]

    # a wrong partition name is refused before parted runs: no partition appears
    wrong = part + "7"
    for check in (True, False):
        refused = run_module("storage_volume", dict(pool=pool, name=wrong, capacity="32M"), check=check)
        assert_failed(refused, "name", part + "4")
        assert refused.get("param") == "name", refused
        assert parted_numbers(device) == [1, 2, 3]
        assert wrong not in vol_names(pool)

    # capacity rounding is not a difference; a real resize is refused naming capacity (disk pools cannot)
    for same in ("64M", "60M"):
        result = run_ok("storage_volume", dict(pool=pool, name=third, capacity=same), changed=False)
        assert result["actions"] == [], result
    for other in ("128M", "32M"):
        refused = run_module("storage_volume", dict(pool=pool, name=third, capacity=other, allow_shrink=True))
        assert_failed(refused, "capacity", "cannot resize")
        assert refused.get("param") == "capacity", refused
        assert vol_info(pool, third)["Capacity"] == real["volume"]["capacity"]

    # deleting loopNp2 works (libvirt 9.0 alone cannot) and leaves the pool refreshed
    second = part + "2"

    def second_before():
        assert second in vol_names(pool, refresh=False)
        assert parted_numbers(device) == [1, 2, 3]

    def second_after():
        assert second not in vol_names(pool, refresh=False)  # no refresh: the module left the pool current
        assert parted_numbers(device) == [1, 3]
        assert not vol_exists(pool, second)

    real = six_steps("storage_volume", dict(pool=pool, name=second, state="absent"), second_before, second_after)
    assert real["actions"] == ["delete volume %s of pool %s" % (second, pool)], real["actions"]
    assert real["volume"] is None
    assert sorted(vol_names(pool)) == [part + "1", third]


# ---------------------------------------------------------------- 2. resize

def head_sha(path, length=2 * MIB):
    """sha256 of the first ``length`` bytes of a file."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read(length)).hexdigest()


def test_resize_grow_and_shrink(workdir, prefix, pools):
    """Grow (six steps); a shrink is refused without allow_shrink, and done with it (six steps)."""
    pool = prefix + "resize"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "resize"))
    path = os.path.join(target, "grow.img")
    run_ok("storage_volume", volume(pool, "grow.img", capacity="64M"), changed=True)
    write_random(path, [1])
    head = head_sha(path)

    def sized(capacity):
        def verify():
            assert_file_volume(pool, "grow.img", path, "raw", capacity)
            assert os.path.getsize(path) == capacity
        return verify

    real = six_steps("storage_volume", volume(pool, "grow.img", capacity="96M"), sized(64 * MIB), sized(96 * MIB))
    assert real["actions"] == ["grow volume grow.img from 64 MiB to 96 MiB (%d -> %d bytes)" % (64 * MIB, 96 * MIB)], real["actions"]
    assert real["volume"]["capacity"] == 96 * MIB
    diff = real["diff"]
    assert diff["before"]["capacity"] == 64 * MIB and diff["after"]["capacity"] == 96 * MIB, diff
    assert diff["before"]["state"] == diff["after"]["state"] == "present", diff

    for check in (True, False):
        refused = run_module("storage_volume", volume(pool, "grow.img", capacity="32M"), check=check)
        assert_failed(refused, "allow_shrink", "shrinking")
        assert refused.get("param") == "allow_shrink", refused
        sized(96 * MIB)()

    real = six_steps("storage_volume", volume(pool, "grow.img", capacity="32M", allow_shrink=True),
                     sized(96 * MIB), sized(32 * MIB))
    assert real["actions"] == ["shrink volume grow.img from 96 MiB to 32 MiB (%d -> %d bytes)" % (96 * MIB, 32 * MIB)]
    # the data below the new size survived the grow and the shrink
    assert head_sha(path) == head


# ---------------------------------------------------------------- 3. clones

def test_linked_and_full_clones(loopfs, workdir, prefix, pools):
    """Linked clones over a backing volume by name and by path; full clones into an fs pool, raw <-> qcow2."""
    source_pool = prefix + "src"
    source_dir = make_dir_pool(pools, source_pool, os.path.join(workdir, "src"))
    base_raw = os.path.join(source_dir, "base.img")
    run_ok("storage_volume", volume(source_pool, "base.img", capacity="64M"), changed=True)
    write_random(base_raw, [0, 20, 63])
    content = sha256_file(base_raw)
    base_qcow2 = os.path.join(source_dir, "base.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", base_raw, base_qcow2], check=True,
                   capture_output=True)
    assert "base.qcow2" in vol_names(source_pool)

    # linked clone by name (the format defaults to qcow2 over a backing store)
    linked = os.path.join(source_dir, "linked.qcow2")

    def linked_after(path, backing, backing_format):
        def verify():
            image = qemu_img_info(path)
            assert image["format"] == "qcow2", image
            assert image["backing-filename"] == backing, image
            assert image["backing-filename-format"] == backing_format, image
            assert image["virtual-size"] == 64 * MIB, image
            xml = vol_xml(source_pool, os.path.basename(path))
            assert xml.findtext("backingStore/path") == backing
            assert xml.find("backingStore/format").get("type") == backing_format
            assert allocated(path) < MIB  # linked: the data stays in the backing file
            assert raw_sha256(path) == content
        return verify

    real = six_steps("storage_volume", volume(source_pool, "linked.qcow2",
                                              backing_store=dict(name="base.qcow2", format="qcow2")),
                     lambda: assert_absent(source_pool, "linked.qcow2", linked),
                     linked_after(linked, base_qcow2, "qcow2"))
    assert real["actions"] == ["create volume linked.qcow2 in pool %s over backing store %s" % (
        source_pool, base_qcow2)], real["actions"]
    assert real["volume"]["backing_store"]["path"] == base_qcow2, real["volume"]

    # linked clone by path, over the raw base
    by_path = os.path.join(source_dir, "bypath.qcow2")
    six_steps("storage_volume", volume(source_pool, "bypath.qcow2", format="qcow2",
                                       backing_store=dict(path=base_raw, format="raw")),
              lambda: assert_absent(source_pool, "bypath.qcow2", by_path), linked_after(by_path, base_raw, "raw"))

    # full clones across pools into an fs pool, converting the format
    fs_name = prefix + "fs"
    fs_dir = fs_pool(loopfs, workdir, pools, fs_name)
    for source, clone, fmt in (("base.img", "copy.qcow2", "qcow2"), ("base.qcow2", "copy.img", "raw")):
        path = os.path.join(fs_dir, clone)

        def clone_after(path=path, fmt=fmt, clone=clone):
            image = assert_file_volume(fs_name, clone, path, fmt, 64 * MIB)
            assert "backing-filename" not in image, image
            assert raw_sha256(path, fmt) == content
            subprocess.run(["qemu-img", "compare", "-U", base_raw, path], check=True, capture_output=True)

        real = six_steps("storage_volume", dict(pool=fs_name, name=clone, format=fmt,
                                                clone_from=dict(pool=source_pool, name=source)),
                         lambda path=path, clone=clone: assert_absent(fs_name, clone, path), clone_after)
        assert real["actions"] == ["clone volume %s of pool %s into volume %s in pool %s" % (
            source, source_pool, clone, fs_name)], real["actions"]
    # the sources are untouched
    assert sha256_file(base_raw) == content and raw_sha256(base_qcow2) == content


# ---------------------------------------------------------------- 4. import

def assert_imported(pool, name, path, fmt, source_sha, data=6 * MIB):
    """The volume holds exactly the source's content and stays sparse (allocation near the data size)."""
    def verify():
        assert_file_volume(pool, name, path, fmt, 256 * MIB)
        assert raw_sha256(path, fmt) == source_sha
        assert data <= allocated(path) < data + 4 * MIB, allocated(path)
        assert vol_info(pool, name)["Allocation"] < 16 * MIB, vol_info(pool, name)
    return verify


def test_import_local_and_url(http_images, workdir, prefix, pools, imported):
    """Sparse raw and qcow2 images, local and over HTTP, into raw and qcow2 volumes: same content, still sparse."""
    url, images = http_images
    pool = prefix + "imp"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "imp"))
    cases = [
        # (volume, volume format, source, declared checksum)
        ("local.img", "raw", images["one"], images["one_sha"]),
        ("url.img", "raw", url + "/one.qcow2", images["qcow2_sha"]),       # qcow2 -> raw
        ("url.qcow2", "qcow2", url + "/one.raw", None),                    # raw -> qcow2, no checksum
        ("urlraw.img", "raw", url + "/one.raw", images["one_sha"]),        # raw as it is: holes stay holes
    ]
    for name, fmt, src, checksum in cases:
        path = os.path.join(target, name)
        imported.append((pool, name))
        source = dict(src=src)
        if checksum:
            source["checksum"] = "sha256:" + checksum
        args = volume(pool, name, format=fmt, import_from=source)
        real = six_steps("storage_volume", args, lambda name=name, path=path: assert_absent(pool, name, path),
                         assert_imported(pool, name, path, fmt, images["one_sha"]))
        assert real["actions"] == ["create volume %s in pool %s from %s" % (name, pool, src)], real["actions"]
        assert real["volume"]["capacity"] == 256 * MIB and real["volume"]["format"] == fmt, real["volume"]
        assert warnings_of(real) == [], real
    # the raw volume is a byte-for-byte copy of the raw source
    assert sha256_file(os.path.join(target, "local.img")) == images["one_sha"]


def test_import_changed_checksum_and_reimport(images, workdir, prefix, pools, imported):
    """A changed checksum keeps the content and warns; reimport: true replaces it (changed once, then not)."""
    pool = prefix + "reimp"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "reimp"))
    path = os.path.join(target, "vol.img")
    imported.append((pool, "vol.img"))
    first = volume(pool, "vol.img", import_from=dict(src=images["one"], checksum="sha256:" + images["one_sha"]))
    run_ok("storage_volume", first, changed=True)
    assert sha256_file(path) == images["one_sha"]

    changed = volume(pool, "vol.img", import_from=dict(src=images["two"], checksum="sha256:" + images["two_sha"]))
    for check in (True, False):
        kept = run_ok("storage_volume", changed, check=check, changed=False)
        assert kept["actions"] == []
        (warning,) = warnings_of(kept)
        assert "reimport: true" in warning and images["one_sha"] in warning and images["two_sha"] in warning, warning
        assert sha256_file(path) == images["one_sha"]

    again = dict(changed, reimport=True)
    planned = run_ok("storage_volume", again, check=True, changed=True)
    assert sha256_file(path) == images["one_sha"]
    real = run_ok("storage_volume", again, changed=True)
    assert real["actions"] == planned["actions"] == [
        "re-import volume vol.img from %s (checksum sha256:%s)" % (images["two"], images["two_sha"])]
    assert_imported(pool, "vol.img", path, "raw", images["two_sha"], data=4 * MIB)()
    for check in (True, False):
        assert run_ok("storage_volume", again, check=check, changed=False)["actions"] == []
    assert sha256_file(path) == images["two_sha"]


def test_import_checksum_mismatch_leaves_nothing(http_images, workdir, prefix, pools, imported):
    """A source whose checksum is not the declared one fails naming the checksum; no volume is left behind."""
    url, images = http_images
    pool = prefix + "bad"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "bad"))
    for name, src in (("local.img", images["two"]), ("url.img", url + "/two.raw")):
        path = os.path.join(target, name)
        imported.append((pool, name))
        result = run_module("storage_volume", volume(pool, name, import_from=dict(
            src=src, checksum="sha256:" + images["one_sha"])))
        assert_failed(result, "import_from.checksum", images["two_sha"], images["one_sha"], "nothing was imported")
        assert_absent(pool, name, path)
    assert os.listdir(target) == []


# ---------------------------------------------------------------- 5. wipe

def test_wipe(workdir, prefix, pools):
    """A zero wipe of a raw volume (six steps, then it reads as zeros); qcow2 refused; wipe before delete."""
    pool = prefix + "wipe"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "wipe"))
    path = os.path.join(target, "data.img")
    run_ok("storage_volume", volume(pool, "data.img", capacity="64M"), changed=True)
    write_random(path, [0, 10, 63])

    def has_data():
        assert_file_volume(pool, "data.img", path, "raw", 64 * MIB)
        assert not reads_as_zeros(path)

    def zeroed():
        assert_file_volume(pool, "data.img", path, "raw", 64 * MIB)
        assert reads_as_zeros(path)

    real = six_steps("storage_volume", volume(pool, "data.img", wipe=True), has_data, zeroed)
    assert real["actions"] == ["wipe volume data.img (zero)"], real["actions"]

    # a qcow2 would lose its header: refused with state present
    qcow2 = os.path.join(target, "data.qcow2")
    run_ok("storage_volume", volume(pool, "data.qcow2", capacity="64M", format="qcow2"), changed=True)
    for check in (True, False):
        refused = run_module("storage_volume", volume(pool, "data.qcow2", wipe=True), check=check)
        assert_failed(refused, "wipe", "qcow2")
        assert refused.get("param") == "wipe", refused
        assert qemu_img_info(qcow2)["format"] == "qcow2"

    # state absent + wipe: the data is wiped, then the volume deleted
    write_random(path, [5])
    real = six_steps("storage_volume", volume(pool, "data.img", state="absent", wipe=True), has_data,
                     lambda: assert_absent(pool, "data.img", path))
    assert real["actions"] == ["wipe volume data.img (zero)", "delete volume data.img of pool %s" % pool]
    real = six_steps("storage_volume", volume(pool, "data.qcow2", state="absent", wipe=True),
                     lambda: qemu_img_info(qcow2), lambda: assert_absent(pool, "data.qcow2", qcow2))
    assert real["actions"][-1] == "delete volume data.qcow2 of pool %s" % pool


# ---------------------------------------------------------------- 6. in use

def test_delete_refused_while_a_guest_uses_it(workdir, prefix, pools, guests):
    """A defined guest's volumes are not deleted without allow_in_use; used_by names it (path and pool/volume).

    One guest references one volume by path (a file disk) and another by pool and volume name (a
    ``type='volume'`` disk): one ``virsh define`` only, as this libvirt re-probes QEMU on every define (slow).
    """
    pool = prefix + "used"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "used"))
    by_path, by_volume = os.path.join(target, "bypath.img"), os.path.join(target, "byvol.img")
    for name in ("bypath.img", "byvol.img", "free.img"):
        run_ok("storage_volume", volume(pool, name, capacity="64M"), changed=True)
    guest = prefix + "guest"
    guests.append(guest)
    define_guest(guest, [{"file": by_path}, {"pool": pool, "volume": "byvol.img"}])
    assert virsh("domstate", guest).strip() == "shut off"

    for check in (False, True):
        listed = run_ok("storage_volume_info", dict(pool=pool), check=check, changed=False)
        used_by = dict((v["name"], v["used_by"]) for v in listed["volumes"])
        assert used_by == {"bypath.img": [guest], "byvol.img": [guest], "free.img": []}, used_by
    for name in ("bypath.img", "byvol.img"):
        one = run_ok("storage_volume_info", dict(pool=pool, name=name), changed=False)
        assert one["exists"] is True and one["volumes"][0]["used_by"] == [guest], one

    for name, path in (("bypath.img", by_path), ("byvol.img", by_volume)):
        for check in (True, False):
            refused = run_module("storage_volume", volume(pool, name, state="absent"), check=check)
            assert_failed(refused, guest, "allow_in_use", name)
            assert refused.get("param") == "allow_in_use", refused
            assert name in vol_names(pool) and os.path.exists(path)
    # a volume no guest uses is deleted without allow_in_use
    six_steps("storage_volume", volume(pool, "free.img", state="absent"), lambda: vol_info(pool, "free.img"),
              lambda: assert_absent(pool, "free.img", os.path.join(target, "free.img")))

    for name, path in (("bypath.img", by_path), ("byvol.img", by_volume)):
        real = six_steps("storage_volume", volume(pool, name, state="absent", allow_in_use=True),
                         lambda name=name: vol_info(pool, name),
                         lambda name=name, path=path: assert_absent(pool, name, path))
        assert real["actions"] == ["delete volume %s of pool %s" % (name, pool)], real["actions"]
    # the guest is still defined, untouched (the module never edits guests)
    assert virsh("domstate", guest).strip() == "shut off"
    assert by_path in virsh("dumpxml", "--inactive", guest)


# ---------------------------------------------------------------- 7. LUKS

def test_luks_volume(workdir, prefix, pools, secrets):
    """A LUKS volume with its passphrase in a libvirt volume secret; the disk XML carries the encryption."""
    pool = prefix + "luks"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "luks"))
    path = os.path.join(target, "secret.img")
    secret_uuid = define_volume_secret(path, "correct horse battery staple")
    secrets.append(secret_uuid)

    def encrypted():
        image = qemu_img_info(path)
        assert image["format"] == "luks" and image["encrypted"] is True, image
        assert image["virtual-size"] == 64 * MIB, image
        encryption = vol_xml(pool, "secret.img").find("target/encryption")
        assert encryption is not None and encryption.get("format") == "luks"
        assert encryption.find("secret").get("uuid") == secret_uuid
        assert vol_info(pool, "secret.img")["Capacity"] == 64 * MIB

    real = six_steps("storage_volume", volume(pool, "secret.img", capacity="64M",
                                              encryption=dict(secret=dict(uuid=secret_uuid))),
                     lambda: assert_absent(pool, "secret.img", path), encrypted)
    facts = real["volume"]
    assert facts["encryption"] == {"format": "luks", "secret": {"uuid": secret_uuid}}, facts
    assert facts["disk"]["source"]["encryption"] == {"format": "luks", "secret": {"uuid": secret_uuid}}, facts
    assert '<encryption format="luks">' in facts["disk_xml"], facts["disk_xml"]
    assert 'uuid="%s"' % secret_uuid in facts["disk_xml"], facts["disk_xml"]
    assert "correct horse" not in str(real)

    # a secret that does not exist is refused before libvirt creates anything
    nowhere = dict(secret=dict(uuid="00000000-0000-4000-8000-000000000000"))
    missing = run_module("storage_volume", volume(pool, "other.img", capacity="64M", encryption=nowhere))
    assert_failed(missing, "encryption.secret")
    assert_absent(pool, "other.img", os.path.join(target, "other.img"))


# ---------------------------------------------------------------- 8. info

def test_volume_info(workdir, prefix, pools):
    """storage_volume_info lists every volume with its disk XML, reports exists for one name, never changes."""
    pool = prefix + "info"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "info"))
    run_ok("storage_volume", volume(pool, "b.qcow2", capacity="64M", format="qcow2"), changed=True)
    run_ok("storage_volume", volume(pool, "a.img", capacity="32M"), changed=True)

    for check in (False, True):
        listed = run_ok("storage_volume_info", dict(pool=pool), check=check, changed=False)
        assert [v["name"] for v in listed["volumes"]] == ["a.img", "b.qcow2"], listed
        for facts, fmt, size in zip(listed["volumes"], ("raw", "qcow2"), (32 * MIB, 64 * MIB)):
            path = os.path.join(target, facts["name"])
            assert facts["path"] == path and facts["format"] == fmt and facts["capacity"] == size, facts
            assert facts["used_by"] == [] and facts["pool"] == pool and facts["pool_type"] == "dir", facts
            assert 'source file="%s"' % path in facts["disk_xml"], facts["disk_xml"]
            assert 'type="%s"' % fmt in facts["disk_xml"], facts["disk_xml"]

    one = run_ok("storage_volume_info", dict(pool=pool, name="b.qcow2"), changed=False)
    assert one["exists"] is True and [v["name"] for v in one["volumes"]] == ["b.qcow2"], one
    scsi = run_ok("storage_volume_info", dict(pool=pool, name="b.qcow2", disk=dict(bus="scsi")), changed=False)
    assert '<target dev="sdb" bus="scsi"/>' in scsi["volumes"][0]["disk_xml"], scsi
    missing = run_ok("storage_volume_info", dict(pool=pool, name="nothing.img"), changed=False)
    assert missing["exists"] is False and missing["volumes"] == [], missing
    assert sorted(os.listdir(target)) == ["a.img", "b.qcow2"]
