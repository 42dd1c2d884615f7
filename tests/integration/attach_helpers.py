"""Host-side helpers of the disk_attach tests: what a guest's definitions hold, and what its disks hold.

The guest's persistent and live ``<disk>`` elements are read with virsh; the bytes a guest wrote are read
from the image with qemu-img (any format), so the data, not a return code, proves a disk worked.
"""

import contextlib
import json
import os
import tempfile

import pytest
from lxml import etree

from .backends import run
from .conftest import assert_refused, run_module, virsh
from .guest import domain_xml

SECTOR = 512


def disks(domain, scope):
    """The ``<disk>`` elements of the guest's ``persistent`` or ``live`` definition (lxml elements)."""
    args = ("dumpxml", "--inactive", domain) if scope == "persistent" else ("dumpxml", domain)
    return etree.fromstring(virsh(*args).encode("utf-8")).findall("devices/disk")


def serials(domain, scope):
    """{serial: target dev} of the guest's disks in one definition."""
    return dict((disk.findtext("serial"), disk.find("target").get("dev")) for disk in disks(domain, scope))


def disk_by_serial(domain, scope, serial):
    """The one ``<disk>`` element with ``serial`` in that definition (AssertionError when not exactly one)."""
    found = [disk for disk in disks(domain, scope) if disk.findtext("serial") == serial]
    assert len(found) == 1, (domain, scope, serial, [etree.tostring(d) for d in disks(domain, scope)])
    return found[0]


def first_bytes(path, fmt="raw", count=32):
    """The first ``count`` bytes of the guest-visible content of the image at ``path`` (qcow2 read through qemu-img)."""
    return _first_sector(["-f", fmt], path)[:count]


def _first_sector(options, source):
    """The first sector of an image as QEMU opens it: ``qemu-img dd`` with ``options`` of ``source`` (-U: also
    while a running guest holds its lock)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "sector")
        run(["qemu-img", "dd", "-U"] + options +
            ["-O", "raw", "bs=%d" % SECTOR, "count=1", "if=" + source, "of=" + out])
        with open(out, "rb") as handle:
            return handle.read()


@contextlib.contextmanager
def _luks_secret(passphrase):
    """qemu-img's ``--object`` of a secret (id sec0) holding ``passphrase``, read from a private file, never
    from a command line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "passphrase")
        with open(path, "w") as handle:
            handle.write(passphrase)
        yield ["--object", "secret,id=sec0,file=" + path]


# where an encrypted image's LUKS options go: the luks format's own, or qcow2's encrypt.* ones
_KEY_PREFIX = {"luks": "", "qcow2": "encrypt."}


def _luks_opts(path, fmt):
    return "driver=%s,%skey-secret=sec0,file.filename=%s" % (fmt, _KEY_PREFIX[fmt], path)


def luks_image(path, passphrase, plaintext, fmt="luks", size=16 * 1024 * 1024):
    """A LUKS-encrypted image at ``path`` (``fmt`` luks, or qcow2 with LUKS encryption; a fast key: iter-time
    50 ms) whose decrypted content starts with ``plaintext``, written through the passphrase."""
    key = _KEY_PREFIX[fmt]
    options = "%skey-secret=sec0,%siter-time=50" % (key, key) + (",encrypt.format=luks" if fmt == "qcow2" else "")
    with tempfile.TemporaryDirectory() as tmp, _luks_secret(passphrase) as secret:
        plain = os.path.join(tmp, "plain")
        with open(plain, "wb") as handle:
            handle.write(plaintext)
            handle.truncate(size)
        _create_encrypted(["qemu-img", "create", "-q", "-f", fmt] + secret + ["-o", options, path, str(size)])
        run(["qemu-img", "convert", "-n", "-f", "raw"] + secret + ["--target-image-opts", plain, _luks_opts(path, fmt)])
    return path


def _create_encrypted(argv, attempts=10):
    """Run ``qemu-img create`` of an encrypted image, again when its PBKDF benchmark measured 0 ms: QEMU times a
    short first round of key derivation by the thread's CPU time, which the kernel may count in whole scheduler
    ticks, and gives up on 0 ("Unable to get accurate CPU usage"): 4 runs in 10 on a tick-accounting host."""
    for attempt in range(attempts):
        proc = run(argv, check=attempt == attempts - 1)
        if proc.returncode == 0:
            return
        assert "Unable to get accurate CPU usage" in proc.stderr, proc.stderr


def luks_first_bytes(path, passphrase, fmt="luks", count=32):
    """The first ``count`` decrypted bytes of the LUKS-encrypted image (of format ``fmt``) at ``path``."""
    with _luks_secret(passphrase) as secret:
        return _first_sector(secret + ["--image-opts"], _luks_opts(path, fmt))[:count]


def marker(serial):
    """What the Linux guest writes at the start of a disk whose serial starts with W."""
    return ("GUEST-WROTE %s\n" % serial).encode("ascii").ljust(32, b"\0")


def attach(args, check=False):
    """Run disk_attach; return its result (failed or not)."""
    return run_module("disk_attach", args, check=check)


# ---------------------------------------------------------------- the behaviour tests (test_disk_attach_behaviour)

def definitions(domain):
    """(persistent XML, live XML or '' when the guest is not running): what a refused task must leave as it was."""
    running = virsh("domstate", domain).strip() == "running"
    return virsh("dumpxml", "--inactive", domain), virsh("dumpxml", domain) if running else ""


def assert_refused_changing_nothing(domain, args, param, fragment=None):
    """disk_attach ``args`` is refused naming ``param``, in check mode and for real, and both definitions of
    ``domain`` are as they were; return the message of the real run."""
    before = definitions(domain)
    for check in (True, False):
        result = attach(args, check=check)
        assert_refused(result, param, fragment)
        assert definitions(domain) == before, "check mode" if check else "real run"
    return result["msg"]


def image(directory, name, first_bytes=b"", size=4 * 1024 * 1024):
    """A sparse raw file ``name`` in ``directory`` starting with ``first_bytes``; its path."""
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(first_bytes)
        handle.truncate(size)
    return path


def by_target(domain, scope, dev):
    """The ``<disk>`` element at target ``dev`` of that definition, or None."""
    for disk in disks(domain, scope):
        if disk.find("target").get("dev") == dev:
            return disk
    return None


def source_path(disk):
    """The file or dev of a ``<disk>`` element's source, None for an empty drive."""
    source = disk.find("source")
    return None if source is None else source.get("file") or source.get("dev")


def placement(disk):
    """(alias, address attributes) of a live ``<disk>``: what a change in place keeps and a re-attach may not."""
    address = disk.find("address")
    return disk.find("alias").get("name"), dict(address.attrib) if address is not None else None


def media(domain, alias):
    """The image file QEMU has in the drive of device ``alias`` (query-block), None when it has no media."""
    reply = json.loads(virsh("qemu-monitor-command", domain, '{"execute": "query-block"}'))
    found = [block for block in reply["return"] if block.get("qdev") == alias or
             block.get("qdev", "").startswith("/machine/peripheral/%s/" % alias)]
    assert len(found) == 1, (alias, reply)
    inserted = found[0].get("inserted")
    return inserted["file"] if inserted else None


def block_io_tune(domain, dev):
    """``virsh blkdeviotune`` of the live disk ``dev`` as {name: int}."""
    lines = virsh("blkdeviotune", domain, dev).splitlines()
    return dict((key.strip(), int(value)) for key, value in (line.split(":", 1) for line in lines if ":" in line)
                if value.strip().isdigit())


def hand_attach(domain, disk_xml, flag):
    """``virsh attach-device`` of ``disk_xml`` (a string) with ``flag`` (--config or --live): a disk added by hand."""
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(disk_xml)
        handle.flush()
        virsh("attach-device", domain, handle.name, flag)


@pytest.fixture
def osless_persistent_guest(prefix):
    """Name of a running persistent guest without an OS (it never releases a virtio-blk disk); removed afterwards."""
    name = prefix + "osless"
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(domain_xml(name))
        handle.flush()
        virsh("define", handle.name)
    try:
        virsh("start", name)
        yield name
    finally:
        virsh("destroy", name, check=False)
        virsh("undefine", name, check=False)
