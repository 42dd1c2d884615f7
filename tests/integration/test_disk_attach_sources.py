"""disk_attach of every kind of source to a running persistent Linux guest, with the guest as the witness.

One flow (``attach_then_detach``) for every source: attach live and persistent in
the six steps (check, real, check, real), each step checking the ``<disk>``
element of both definitions; the guest reports the disk with its serial and its
size in sectors, and writes its marker (serial W...) or reads the first bytes
(serial R...); then detach in the six steps, the guest reports the disk
released, both definitions are without it, and the host reads, by content,
what the guest wrote or what the guest read.

The sources: a raw volume of an fs pool on the SCSI bus, a partition of a disk
pool (a block disk), a LUN of an iscsi-direct pool with CHAP (a network disk
with auth), a LUKS volume with its passphrase in a volume secret, host paths
(a raw file, a qcow2 file whose format is probed, a qcow2 file declared raw)
and a storage_volume disk_xml.
"""

import json
import os
import subprocess

import pytest
from lxml import etree

from .attach_helpers import SECTOR, disk_by_serial, first_bytes, luks_first_bytes, luks_image, marker, serials
# pytest fixtures, used as test arguments
from .backends import iscsi, loopdisk, loopfs  # noqa: F401  pylint: disable=unused-import
from .conftest import run_ok, six_steps, workdir  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import
from .test_pool_lifecycle import fs_args
from .test_volume_iscsi_direct import backing_file, iscsi_pool, lun_size  # noqa: F401  pylint: disable=unused-import
from .test_volume_lifecycle import secrets  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import MIB, define_volume_secret, make_dir_pool

SCOPES = ("persistent", "live")
QCOW2_MAGIC = b"QFI\xfb"


def expect_disk(disk_type, driver, source, target, more=None):
    """A check of a ``<disk>`` element: its type and the attributes of its driver, source and target, exactly
    (the live definition's source ``index`` left out); ``more(element)`` checks the rest."""
    def check(element):
        source_attrs = dict(element.find("source").attrib)
        source_attrs.pop("index", None)  # the running guest's block-node number
        found = (element.get("type"), dict(element.find("driver").attrib), source_attrs,
                 dict(element.find("target").attrib))
        assert found == (disk_type, driver, source, target), etree.tostring(element)
        if more:
            more(element)
    return check


def attach_then_detach(guest, args, serial, sectors, check_disk, content):
    """Attach ``args`` to the running persistent ``guest`` and detach it, both in the six steps, the guest witnessing.

    ``check_disk(element)`` checks the disk's element in each definition while attached; the guest must report
    ``sectors``. ``content()`` reads on the host the first 32 bytes the guest sees: for an R serial what the
    guest reads, for a W serial the guest's marker once it is detached. Returns the real attach and detach results.
    """
    attached = attach_in_six_steps(guest, args, serial, sectors, check_disk, content)
    return attached, detach_in_six_steps(guest, args, serial, check_disk, content)


def _in_definitions(guest, serial, check_disk):
    """(absent, present): checks that ``serial`` is in no definition of ``guest``, and in both (``check_disk``)."""
    def absent():
        for scope in SCOPES:
            assert serial not in serials(guest.name, scope), scope

    def present():
        for scope in SCOPES:
            check_disk(disk_by_serial(guest.name, scope, serial))
    return absent, present


def attach_in_six_steps(guest, args, serial, sectors, check_disk, content):
    """The attach half of ``attach_then_detach``; returns the real attach's result."""
    absent, present = _in_definitions(guest, serial, check_disk)
    since = guest.mark()
    attached = six_steps("disk_attach", args, absent, present)
    assert (attached["disk"]["persistent"], attached["disk"]["live"]) == (True, True), attached
    assert attached["disk"]["serial"] == serial, attached
    assert [action.rsplit(" to ", 1)[1] for action in attached["actions"]] == [
        "the running guest", "the persistent definition"], attached["actions"]
    added = guest.wait_for("ADD", serial, since)
    assert added.fields["sectors"] == str(sectors), added.line
    assert added.fields["bus"] == attached["disk"]["target"]["bus"], added.line
    if serial.startswith("R"):
        read = guest.wait_for("READ", serial, since)
        assert bytes.fromhex(read.fields["hex"]) == content(), read.line
    else:
        guest.wait_for("WROTE", serial, since)
    return attached


def detach_in_six_steps(guest, args, serial, check_disk, content):
    """The detach half of ``attach_then_detach``; returns the real detach's result."""
    absent, present = _in_definitions(guest, serial, check_disk)
    since = guest.mark()
    detached = six_steps("disk_attach", dict(args, state="absent"), present, absent)
    assert detached["disk"] is None and detached["disk_xml"] is None, detached
    assert [action.rsplit(" from ", 1)[1] for action in detached["actions"]] == [
        "the persistent definition", "the running guest"], detached["actions"]  # persistent first
    guest.wait_for("REMOVE", serial, since, timeout=10)
    if serial.startswith("W"):
        assert content() == marker(serial)
    return detached


def sparse_file(path, size=16 * MIB):
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


# ---------------------------------------------------------------- the sources

def test_fs_pool_raw_volume_on_scsi(loopfs, linux_guest, workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    """A raw volume of an fs pool (ext4 on a loop device) is a file disk on the SCSI bus: sda, scsi in the guest."""
    pool = prefix + "fs"
    pools.append(pool)
    target = os.path.join(workdir, "fs")
    device = loopfs("ext4", "128M")["LOOPFS_DEVICE"]
    run_ok("storage_pool", fs_args(pool, device, target))  # mounted before QEMU starts: its namespace sees it
    run_ok("storage_volume", dict(pool=pool, name="s.img", capacity="16M", format="raw"))
    path = os.path.join(target, "s.img")
    guest = linux_guest(persistent=True)

    attached, dummy = attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=pool, name="s.img"), disk=dict(bus="scsi", serial="Wfs")),
        "Wfs", 16 * MIB // SECTOR,
        expect_disk("file", {"name": "qemu", "type": "raw"}, {"file": path}, {"dev": "sda", "bus": "scsi"}),
        lambda: first_bytes(path))
    assert attached["disk"]["target"] == {"dev": "sda", "bus": "scsi"}, attached


def test_disk_pool_partition_is_a_block_disk(loopdisk, linux_guest, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    """A partition of a disk pool is a block disk, opened raw with cache none (and native AIO)."""
    pool = prefix + "disk"
    pools.append(pool)
    device = loopdisk("128M")["LOOPDISK_DEVICE"]
    run_ok("storage_pool", dict(name=pool, type="disk", state="active", target=dict(path="/dev"),
                                source=dict(devices=[dict(path=device)], format="gpt")))
    volume = run_ok("storage_volume", dict(pool=pool, capacity="16M"))["volume"]
    partition = volume["path"]
    size = int(subprocess.run(["blockdev", "--getsize64", partition], capture_output=True, text=True,
                              check=True).stdout)
    guest = linux_guest(persistent=True)

    attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=pool, name=volume["name"]), disk=dict(serial="Wpart")),
        "Wpart", size // SECTOR,
        expect_disk("block", {"name": "qemu", "type": "raw", "cache": "none", "io": "native"}, {"dev": partition},
                    {"dev": "vda", "bus": "virtio"}),
        lambda: first_bytes(partition))


def test_iscsi_direct_lun_with_chap(iscsi_pool, linux_guest):  # noqa: F811  pylint: disable=redefined-outer-name
    """A LUN of an iscsi-direct pool is a network disk with the pool's CHAP auth (the secret by usage, never its
    value); QEMU's own initiator logs in and the guest's write lands in the target's backing file."""
    pool, facts, usage = iscsi_pool
    guest = linux_guest(persistent=True)
    password = facts["ISCSI_CHAP_PASSWORD"]

    def auth_and_initiator(element):
        source = element.find("source")
        assert [(h.get("name"), h.get("port")) for h in source.findall("host")] == [("127.0.0.1", facts["ISCSI_PORT"])]
        assert source.find("auth").get("username") == facts["ISCSI_CHAP_USER"]
        assert source.find("auth/secret").attrib == {"type": "iscsi", "usage": usage}
        assert source.find("initiator/iqn").get("name") == facts["ISCSI_INITIATOR_IQN"]
        assert password not in etree.tostring(element, encoding="unicode")

    results = attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=pool, name="unit:0:0:1"), disk=dict(serial="Wiscsi")),
        "Wiscsi", lun_size(facts) // SECTOR,
        expect_disk("network", {"name": "qemu", "type": "raw"},
                    {"protocol": "iscsi", "name": facts["ISCSI_TARGET_IQN"] + "/1"},
                    {"dev": "vda", "bus": "virtio"}, auth_and_initiator),
        lambda: first_bytes(backing_file(facts, 1)))
    assert results[0]["disk"]["source"]["auth"] == {
        "username": facts["ISCSI_CHAP_USER"], "secret": {"type": "iscsi", "usage": usage}}, results[0]
    for result in results:
        assert password not in json.dumps(result)


@pytest.mark.parametrize("fmt, driver_type", [("luks", "raw"), ("qcow2", "qcow2")])
def test_luks_volume_read_through_its_secret(fmt, driver_type, linux_guest, workdir, prefix, pools,  # noqa: F811
                                             secrets):  # noqa: F811  pylint: disable=redefined-outer-name
    """A LUKS volume (a luks image, or qcow2 with LUKS encryption) whose passphrase is in a volume secret: the
    disk carries the encryption and its secret, and the guest reads the plaintext the host wrote through the
    passphrase (the file itself holds ciphertext)."""
    pool = prefix + "luks"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "luks"))
    path = os.path.join(target, "secret.img")
    passphrase = "correct horse battery staple"
    secret_uuid = define_volume_secret(path, passphrase)  # libvirt finds a volume's secret by its path (usage)
    secrets.append(secret_uuid)
    plaintext = b"HOST-PLAINTEXT through LUKS\n".ljust(32, b"\0")
    luks_image(path, passphrase, plaintext, fmt)
    assert luks_first_bytes(path, passphrase, fmt) == plaintext
    with open(path, "rb") as handle:
        assert plaintext[:16] not in handle.read()
    run_ok("storage_volume", dict(pool=pool, name="secret.img"))  # refreshes the pool: libvirt sees the image
    guest = linux_guest(persistent=True)

    def encryption(element):
        found = element.find("source/encryption")
        assert found is not None and found.get("format") == "luks", etree.tostring(element)
        assert found.find("secret").attrib == {"type": "passphrase", "uuid": secret_uuid}, etree.tostring(element)

    results = attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=pool, name="secret.img"), disk=dict(serial="Rluks")),
        "Rluks", 16 * MIB // SECTOR,
        expect_disk("file", {"name": "qemu", "type": driver_type}, {"file": path}, {"dev": "vda", "bus": "virtio"},
                    encryption),
        lambda: luks_first_bytes(path, passphrase, fmt))
    for result in results:
        assert passphrase not in json.dumps(result)


def test_host_paths_and_their_format(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """A raw file is a raw file disk; a qcow2 file without format is probed as qcow2 (the guest sees its virtual
    size, the host reads the guest's marker through qcow2); with format raw given, raw is used (the guest reads
    the qcow2 header itself)."""
    guest = linux_guest(persistent=True)
    raw = sparse_file(os.path.join(workdir, "plain.img"))
    probed, declared = (os.path.join(workdir, name) for name in ("probed.qcow2", "declared.qcow2"))
    for path in (probed, declared):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "16M"], check=True)
    declared_sectors = -(-os.path.getsize(declared) // SECTOR)  # QEMU rounds a raw file up to whole sectors
    with open(declared, "rb") as handle:
        header = handle.read(32)
    assert header.startswith(QCOW2_MAGIC)

    cases = [
        # (path, format, serial, driver type, sectors the guest sees, the first bytes the guest sees, on the host)
        (raw, None, "Wpathraw", "raw", 16 * MIB // SECTOR, lambda: first_bytes(raw)),
        (probed, None, "Wpathqcow2", "qcow2", 16 * MIB // SECTOR, lambda: first_bytes(probed, "qcow2")),
        (declared, "raw", "Rpathdeclared", "raw", declared_sectors, lambda: header),
    ]
    for path, fmt, serial, driver_type, sectors, content in cases:
        args = dict(domain=guest.name, path=path, disk=dict(serial=serial))
        if fmt:
            args["format"] = fmt
        attached, dummy = attach_then_detach(
            guest, args, serial, sectors,
            expect_disk("file", {"name": "qemu", "type": driver_type}, {"file": path}, {"dev": "vda", "bus": "virtio"}),
            content)
        assert attached["disk"]["driver"]["type"] == driver_type, attached
    with open(declared, "rb") as handle:
        assert handle.read(32) == header  # an R disk: the guest only read it


def test_disk_xml_of_storage_volume(linux_guest, workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    """storage_volume's disk_xml, made with disk options (dev, serial), is attached as written: its target kept."""
    pool = prefix + "xml"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "xml"))
    volume = run_ok("storage_volume", dict(pool=pool, name="x.img", capacity="16M", format="raw",
                                           disk=dict(dev="vdc", serial="Wxml")))["volume"]
    path = os.path.join(target, "x.img")
    guest = linux_guest(persistent=True)

    attached, dummy = attach_then_detach(
        guest, dict(domain=guest.name, disk_xml=volume["disk_xml"]), "Wxml", 16 * MIB // SECTOR,
        expect_disk("file", {"name": "qemu", "type": "raw"}, {"file": path}, {"dev": "vdc", "bus": "virtio"}),
        lambda: first_bytes(path))
    assert attached["disk"]["target"] == {"dev": "vdc", "bus": "virtio"}, attached
