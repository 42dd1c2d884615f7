# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify of the hypervisor_storage scenario: the host holds what vars/declaration.yml (grown by side_effect.yml)
declares, read back with virsh, mount and qemu-img, not with the collection's own modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = "/var/tmp/vmolhs"
IMAGES = DIR + "/images"
MIB = 1024 * 1024
VIRSH = "virsh -q -c qemu:///system "

POOLS = {"vmolhs-images": IMAGES, "vmolhs-fast": DIR + "/fast", "vmolhs-extra": DIR + "/extra"}
# path: (format, virtual size, backing file or None)
VOLUMES = {
    IMAGES + "/vmolhs-golden.qcow2": ("qcow2", 16 * MIB, None),  # imported from the 16 MiB seed.raw
    IMAGES + "/vmolhs-vm1.qcow2": ("qcow2", 16 * MIB, IMAGES + "/vmolhs-golden.qcow2"),
    IMAGES + "/vmolhs-vm2.qcow2": ("qcow2", 48 * MIB, IMAGES + "/vmolhs-golden.qcow2"),
    IMAGES + "/vmolhs-vm3.qcow2": ("qcow2", 16 * MIB, IMAGES + "/vmolhs-golden.qcow2"),  # the side effect's
    IMAGES + "/vmolhs-secure.qcow2": ("qcow2", 32 * MIB, None),
    DIR + "/fast/vmolhs-scratch.img": ("raw", 64 * MIB, None),
    DIR + "/extra/vmolhs-data.raw": ("raw", 8 * MIB, None),  # the side effect's
}
SECURE_USAGE = IMAGES + "/vmolhs-secure.qcow2"


def passphrase():
    """The scenario's LUKS passphrase, a literal in vars/declaration.yml."""
    with open(os.path.join(SCENARIO, "vars", "declaration.yml")) as declaration:
        for line in declaration:
            if line.startswith("vmolhs_luks_passphrase:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError("vars/declaration.yml has no vmolhs_luks_passphrase")


def secret_uuid(host):
    """The uuid of the scenario's LUKS secret, found by its usage."""
    found = host.check_output(VIRSH + "secret-list | awk '$3 == \"%s\" {print $1}'" % SECURE_USAGE)
    assert found, "no secret of usage volume %s" % SECURE_USAGE
    return found


def image_info(host, path):
    return json.loads(host.check_output("qemu-img info -U --output=json %s", path))


def pool_info(host, name):
    lines = host.check_output(VIRSH + "pool-info %s", name).splitlines()
    return dict((key.strip(), value.strip()) for key, value in (line.split(":", 1) for line in lines))


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pool_is_active_and_autostarted(host, name):
    info = pool_info(host, name)
    assert (info["State"], info["Autostart"]) == ("running", "yes")
    assert host.check_output(VIRSH + "pool-dumpxml %s | sed -n 's:.*<path>\\(.*\\)</path>.*:\\1:p'", name) == POOLS[name]


def test_fs_pool_is_mounted_from_the_loop_device(host):
    loop_device = host.file(DIR + "/loop-device").content_string.strip()
    mount = host.mount_point(DIR + "/fast")
    assert mount.exists
    assert (mount.device, mount.filesystem) == (loop_device, "ext4")


@pytest.mark.parametrize("path", sorted(VOLUMES))
def test_volume_has_declared_format_size_and_backing(host, path):
    fmt, size, backing = VOLUMES[path]
    assert host.file(path).is_file
    info = image_info(host, path)
    assert (info["format"], info["virtual-size"]) == (fmt, size)
    assert info.get("full-backing-filename") == backing
    if backing:
        assert info["backing-filename-format"] == "qcow2"


@pytest.mark.parametrize("name", ["vmolhs-golden.qcow2", "vmolhs-vm1.qcow2", "vmolhs-vm2.qcow2", "vmolhs-vm3.qcow2"])
def test_golden_image_and_its_clones_hold_the_seed(host, name):
    """The import copied the seed into the golden image, and the clones read it through their backing chain
    (qemu-img compare reads a larger image's tail as zeros, as the seed has none)."""
    assert host.check_output("head -c 19 %s", DIR + "/seed.raw") == "vmolhs golden image"  # not just zeros
    host.run_expect([0], "qemu-img compare -f raw -F qcow2 %s %s", DIR + "/seed.raw", IMAGES + "/" + name)


def test_luks_volume_is_encrypted_with_the_declared_secret(host):
    info = image_info(host, IMAGES + "/vmolhs-secure.qcow2")
    assert info["encrypted"] is True
    assert info["format-specific"]["data"]["encrypt"]["format"] == "luks"
    volume_xml = host.check_output(VIRSH + "vol-dumpxml --pool vmolhs-images vmolhs-secure.qcow2")
    assert "<secret type='passphrase' uuid='%s'/>" % secret_uuid(host) in volume_xml


def test_secret_is_defined_private_and_never_shown(host):
    uuid = secret_uuid(host)
    xml = host.check_output(VIRSH + "secret-dumpxml %s", uuid)
    assert "private='yes'" in xml  # the module's default: libvirt never reveals the value
    assert "<usage type='volume'>" in xml and "<volume>%s</volume>" % SECURE_USAGE in xml
    assert host.run(VIRSH + "secret-get-value %s", uuid).rc != 0


def test_role_output_never_shows_the_passphrase(tmp_path):
    """A run of the converge playbook at -vvv with --diff (module arguments and results in full), and its log."""
    log = tmp_path / "converge.log"
    env = dict(os.environ, ANSIBLE_LOG_PATH=str(log), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-vvv", "--diff", "-i", "localhost,",
         "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
         os.path.join(SCENARIO, "converge.yml")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "changed=0" in run.stdout  # converge.yml declares less than the side effect: nothing to do
    # the module's arguments were printed, the value masked where it would be
    assert '"value": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in run.stdout
    assert passphrase() not in run.stdout
    assert passphrase() not in log.read_text()
