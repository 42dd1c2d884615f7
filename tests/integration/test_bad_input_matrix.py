"""Bad input generated from every module's argument spec, against the real libvirtd.

For every option at every depth of suboptions the matrix holds: one value of
the wrong type, a list and a dict for every string option (and for every
element of a list of strings), an empty string for every required string,
numbers just out of range for every option with a range, and an unknown
choice for every option with choices. Each case runs the installed module in
check mode and for real: both must fail naming the option (AnsibleModule's
own messages name the option and the options it is found in), with no
traceback, and leave the daemon's pools, volumes and secrets, and disk_attach's guest (defined, not
started), as they were. disk_attach's cases that no argument spec says (two sources, a disk_xml that is
no <disk>, a bad target name, serial or WWN, ...) are listed in DISK_ATTACH_CASES.

The cases come from the modules' ``ARGUMENT_SPEC``: an option added to a
module is in the matrix without a line here (an ``int`` option must get its
range in RANGES first).
"""

import copy
import importlib
import os
import shutil
import tempfile
import uuid

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import IOTUNE_LIMITS

from .conftest import URI, assert_refused, run_module, virsh
from .volume_helpers import define_guest, undefine_guest

MODULES = ("storage_pool", "storage_pool_info", "storage_volume", "storage_volume_info", "storage_secret",
           "storage_secret_info", "disk_info", "disk_attach", "storage_host")
# every object a case could make carries this in its name or usage: the strings the cases pass hold it
PREFIX = "vt-mx%s-" % uuid.uuid4().hex[:6]
POOL = PREFIX + "pool"
NEVER = "/var/lib/virtops-never"
GUEST = PREFIX + "guest"  # defined, never started: what disk_attach's cases name

# the valid range of every int option (by option name), None where it is open; the cases pass one beyond
MAX_ID = 0xFFFFFFFE  # (uid_t)-1 means "not set" to libvirt
RANGES = {
    "port": (1, 65535), "owner": (0, MAX_ID), "group": (0, MAX_ID), "unique_id": (0, 0xFFFFFFFF),
    "domain": (0, 0xFFFFFFFF), "bus": (0, 0xFF), "slot": (0, 0x1F), "function": (0, 7), "timeout": (1, None),
    "boot_order": (1, None), "detach_timeout": (1, None), "detach_retries": (0, None),
}
RANGES.update((limit, (0, None)) for limit in IOTUNE_LIMITS)  # disk.iotune: 0 is no limit

# the arguments every case of a module starts from: valid, but not enough to create anything
BASES = {
    "storage_pool": {"name": PREFIX + "matrix"},
    "storage_pool_info": {},
    "storage_volume": {"pool": POOL, "name": PREFIX + "matrix.img"},
    "storage_volume_info": {"pool": POOL},
    "storage_secret": {"usage_type": "ceph", "usage_id": PREFIX + "matrix"},
    "storage_secret_info": {"usage_type": "ceph", "usage_id": PREFIX + "matrix"},
    "disk_info": {"domain": PREFIX + "matrix"},
    "disk_attach": {"domain": GUEST},
    "storage_host": {},
}
# storage_pool checks ranges against the pool type: the options under these are tried in a pool that takes them
POOL_CONTEXTS = {
    ("source", "hosts"): {"type": "iscsi", "target": {"path": "/dev/disk/by-path"}, "source": {
        "hosts": [{"name": "san.example.com"}], "devices": [{"path": "iqn.2024-01.com.example:t"}]}},
    ("source", "adapter"): {"type": "scsi", "target": {"path": "/dev/disk/by-path"}, "source": {"adapter": {
        "type": "scsi_host", "parent_address": {"unique_id": 1, "domain": 0, "bus": 0, "slot": 1, "function": 0}}}},
    ("target",): {"type": "dir", "target": {"path": NEVER}, "build": False},
}


def argument_spec(module):
    """The ARGUMENT_SPEC of an installed module file."""
    return importlib.import_module("ansible_collections.virtops.storage.plugins.modules." + module).ARGUMENT_SPEC


def walk(spec, path=()):
    """(path, option) of every option of ``spec`` at every depth."""
    for name, option in sorted(spec.items()):
        yield path + (name,), option
        if option.get("options"):
            yield from walk(option["options"], path + (name,))


# ---------------------------------------------------------------- building the arguments of a case

def sample(option):
    """A valid value of ``option`` (for the required options around the one a case spoils)."""
    kind = option.get("type", "str")
    if option.get("choices"):
        return option["choices"][0]
    if kind == "dict":
        return minimal(option)
    if kind == "list":
        return [minimal(option)] if option.get("elements") == "dict" else ["x"]
    return {"int": 1, "bool": True, "path": NEVER}.get(kind, "x")


def minimal(option, spoiled=None):
    """The smallest valid dict of a dict (or list of dicts) option: its required suboptions and one of each
    required_one_of group (not a group holding ``spoiled``, the suboption a case sets)."""
    options = option.get("options") or {}
    result = dict((name, sample(sub)) for name, sub in options.items() if sub.get("required"))
    for group in option.get("required_one_of") or []:
        if spoiled not in group and not any(name in result for name in group):
            result[group[0]] = sample(options[group[0]])
    return result


def with_value(base, spec, path, value):
    """A copy of ``base`` with the option at ``path`` set to ``value``, its parents made valid around it."""
    args = copy.deepcopy(base)
    node, options, parent = args, spec, {}
    for depth, name in enumerate(path[:-1]):
        parent = options[name]
        if parent.get("type") == "list":
            items = node.get(name) or [minimal(parent, path[depth + 1])]
            node[name] = items
            node = items[0]
        else:
            if node.get(name) is None:
                node[name] = minimal(parent, path[depth + 1])
            node = node[name]
        options = parent["options"]
    for group in parent.get("mutually_exclusive") or []:  # a sample of the parent may hold the other one
        if path[-1] in group:
            for other in group:
                node.pop(other, None)
    node[path[-1]] = value
    return args


def context(module, path):
    """The base arguments of a semantic case (range) of ``module`` at ``path``."""
    base = BASES[module]
    if module == "storage_pool":
        for start, extra in POOL_CONTEXTS.items():
            if path[:len(start)] == start:
                return dict(base, **copy.deepcopy(extra))
    if module == "disk_attach":  # a source: without one, its absence is refused first
        return dict(base, path=NEVER)
    return base


# ---------------------------------------------------------------- the cases

def cases_of(module):
    """(id, args, param named, ours) of every case of ``module``."""
    spec = argument_spec(module)
    base = BASES[module]
    cases = []

    def add(kind, path, value, ours, args_base=base):
        dotted = ".".join(path)
        # AnsibleModule names the option and the options it is found in ('port' ... 'source -> hosts')
        cases.append(("%s:%s:%s" % (module, dotted, kind), with_value(args_base, spec, path, value),
                      dotted if ours else path[-1], path[:-1] if not ours else (), ours))

    for path, option in walk(spec):
        kind = option.get("type", "str")
        marker = PREFIX + "bad"
        # AnsibleModule checks choices before the module runs: a list, a dict or '' is not one of them
        ours = not option.get("choices")
        if kind in ("str", "path"):
            add("list", path, [marker], ours)
            add("dict", path, {marker: marker}, ours)
            if option.get("required"):
                add("empty", path, "", ours)
        elif kind == "list" and option.get("elements") in ("str", "path"):
            add("wrong-type", path, {marker: marker}, False)
            add("element-list", path, [[marker]], True)
            add("element-dict", path, [{marker: marker}], True)
        elif kind == "raw":
            add("dict", path, {marker: marker}, True)
        else:
            wrong = {"int": "abc", "bool": "abc", "dict": "abc", "list": {marker: marker}}[kind]
            add("wrong-type", path, wrong, False)
        if option.get("choices"):
            add("choice", path, marker, False)
        if kind == "int":
            low, high = RANGES[path[-1]]
            for value in (low - 1, high + 1 if high is not None else None):
                if value is not None:
                    add("range-%d" % value, path, value, True, context(module, path))
    return cases


# disk_attach's bad input that no argument spec says: (what, args, the option named, AnsibleModule's own error)
A_DISK = "<disk type='file' device='disk'><source file='%s'/><target dev='vdk' bus='virtio'/></disk>" % NEVER
DISK_ATTACH_CASES = [
    ("no-source", {}, "volume", True),
    ("two-sources", {"volume": {"pool": POOL, "name": "a.img"}, "path": NEVER}, "volume", False),
    ("disk-and-disk_xml", {"disk": {"serial": "x"}, "disk_xml": A_DISK}, "disk_xml", False),
    ("format-without-path", {"volume": {"pool": POOL, "name": "a.img"}, "format": "qcow2"}, "format", True),
    ("negative-detach_timeout", {"path": NEVER, "detach_timeout": -5}, "detach_timeout", True),
    ("negative-detach_retries", {"path": NEVER, "detach_retries": -1}, "detach_retries", True),
    ("dev-not-a-target", {"path": NEVER, "disk": {"dev": "eth0"}}, "disk.dev", True),
    ("dev-a-path", {"path": NEVER, "disk": {"dev": "../../etc"}}, "disk.dev", True),
    ("serial-with-slash", {"path": NEVER, "disk": {"serial": "a/b"}}, "disk.serial", True),
    ("wwn-not-hex", {"path": NEVER, "disk": {"bus": "scsi", "wwn": "0x50014ee2zzzzzzzz"}}, "disk.wwn", True),
    ("wwn-short", {"path": NEVER, "disk": {"bus": "scsi", "wwn": "0x5001"}}, "disk.wwn", True),
    ("wwn-on-virtio", {"path": NEVER, "disk": {"wwn": "0x50014ee2b1c2d3e4"}}, "disk.wwn", True),
    ("iotune-total-and-read", {"path": NEVER, "disk": {"iotune": {"total_bytes_sec": 10, "read_bytes_sec": 5}}},
     "disk.iotune.total_bytes_sec", True),
    ("disk_xml-not-a-disk", {"disk_xml": "<volume><name>x</name></volume>"}, "disk_xml", True),
    ("disk_xml-not-xml", {"disk_xml": "<disk type='file'"}, "disk_xml", True),
    ("disk_xml-bad-boot-order", {"disk_xml": A_DISK.replace("</disk>", "<boot order='first'/></disk>")},
     "disk_xml", True),
    ("disk_xml-without-bus", {"disk_xml": A_DISK.replace(" bus='virtio'", "")}, "disk_xml", True),
    ("missing-guest", {"domain": PREFIX + "nope", "path": NEVER}, "domain", True),
    ("live-of-a-stopped-guest", {"path": NEVER, "live": True}, "live", True),
    ("missing-path", {"path": NEVER}, "path", True),
    ("missing-pool", {"volume": {"pool": PREFIX + "nope", "name": "a.img"}}, "volume.pool", True),
    ("missing-volume", {"volume": {"pool": POOL, "name": PREFIX + "nope.img"}}, "volume.name", True),
]
CASES = [case for module in MODULES for case in cases_of(module)] + [
    ("disk_attach:%s" % what, dict(BASES["disk_attach"], **args), param, (), ours)
    for what, args, param, ours in DISK_ATTACH_CASES]


def test_the_matrix_covers_every_option():
    """Every option of every module is in a case, every int option has a range, the ids are unique."""
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    for module in MODULES:
        for path, option in walk(argument_spec(module)):
            dotted = ".".join(path)
            assert any(i.startswith("%s:%s:" % (module, dotted)) for i in ids), (module, dotted)
            if option.get("type") == "int":
                assert path[-1] in RANGES, "give %s.%s its range in RANGES" % (module, dotted)
    assert len(CASES) > 250


# ---------------------------------------------------------------- the daemon, before and after

@pytest.fixture(scope="module")
def conn():
    """A libvirt connection, with the dir pool the volume cases name; everything of PREFIX removed after."""
    connection = libvirt.open(URI)
    folder = tempfile.mkdtemp(prefix="virtops-matrix-")
    os.chmod(folder, 0o755)
    virsh("pool-create-as", POOL, "dir", "--target", folder)
    define_guest(GUEST, [{"file": os.path.join(folder, "root.img")}])
    try:
        yield connection
    finally:
        undefine_guest(GUEST)
        for pool in connection.listAllStoragePools(0):
            if PREFIX in pool.name():
                persistent = pool.isPersistent()  # a transient pool is gone once destroyed
                if pool.isActive():
                    pool.destroy()
                if persistent:
                    pool.undefine()
        for secret in connection.listAllSecrets(0):
            if PREFIX in (secret.usageID() or ""):
                secret.undefine()
        connection.close()
        shutil.rmtree(folder, ignore_errors=True)


def daemon_state(conn):
    """The pools, the volumes of the matrix pool and the secrets a case could have made, the guest's definition."""
    pools = sorted(p.name() for p in conn.listAllStoragePools(0) if PREFIX in p.name())
    matrix = conn.storagePoolLookupByName(POOL)
    matrix.refresh(0)
    volumes = sorted(v.name() for v in matrix.listAllVolumes(0))
    secrets = sorted((s.UUIDString(), s.usageID()) for s in conn.listAllSecrets(0) if PREFIX in (s.usageID() or ""))
    guest = conn.lookupByName(GUEST).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    return {"pools": pools, "volumes": volumes, "secrets": secrets, "guest": guest}


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input(case, conn):
    dummy, args, param, found_in, ours = case
    module = case[0].split(":", 1)[0]
    before = daemon_state(conn)
    assert (before["pools"], before["volumes"], before["secrets"]) == ([POOL], [], [])
    for check in (True, False):
        result = run_module(module, args, check=check)
        assert_refused(result, param, ours=ours)
        for parent in found_in:
            assert parent in result["msg"], (parent, result["msg"])
        assert daemon_state(conn) == before, "check" if check else "real"
