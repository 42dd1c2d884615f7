"""storage_volume parameters against the pool-type table: what each type refuses, what a new volume becomes."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES, pool_type, supports
from ansible_collections.virtops.storage.plugins.module_utils.volume import (
    PoolHandle, next_partition_name, partition_number, partition_prefix)
from ansible_collections.virtops.storage.plugins.module_utils.volume_spec import (
    check_against_pool, creation_spec, desired_from_params)
from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import build_volume_xml, parse_volume_xml


def params(**given):
    base = dict(pool="p", name="v", state="present", capacity=None, allocation=None, format=None,
                preallocation=None, permissions=None, compat=None, lazy_refcounts=None, cluster_size=None,
                nocow=None, backing_store=None, clone_from=None, import_from=None, reimport=False,
                encryption=None, allow_shrink=False, allow_in_use=False, wipe=False, wipe_algorithm=None, disk=None)
    base.update(given)
    return base


def desired(**given):
    return desired_from_params(params(**given))


CREATABLE = sorted(name for name, row in POOL_TYPES.items() if supports(row, "volume_create"))
NOT_CREATABLE = sorted(name for name, row in POOL_TYPES.items() if not supports(row, "volume_create"))


@pytest.mark.parametrize("type_name", NOT_CREATABLE)
def test_types_without_volume_creation_refuse_it_from_the_table(type_name):
    with pytest.raises(ParameterError) as err:
        check_against_pool(desired(capacity="1G"), pool_type(type_name), "p1", new=True)
    assert err.value.param == "state"
    assert "%s pool, which cannot create volumes" % type_name in err.value.msg


@pytest.mark.parametrize("type_name", NOT_CREATABLE)
def test_existing_luns_are_not_refused(type_name):
    check_against_pool(desired(), pool_type(type_name), "p1", new=False)


@pytest.mark.parametrize("type_name", CREATABLE)
def test_no_format_means_no_format_element(type_name):
    """libvirt picks the default (raw for files): never a qcow2 default on logical/disk/rbd/zfs."""
    row = pool_type(type_name)
    want = desired(capacity="1G")
    check_against_pool(want, row, "p1", new=True)
    spec = creation_spec(want, row, "v")
    assert "format" not in spec
    assert "<format" not in build_volume_xml(spec)


@pytest.mark.parametrize("type_name", CREATABLE)
def test_qcow2_only_where_the_type_has_it(type_name):
    row = pool_type(type_name)
    want = desired(capacity="1G", format="qcow2")
    if "qcow2" in row.volume_formats:
        check_against_pool(want, row, "p1", new=True)
        assert creation_spec(want, row, "v")["format"] == "qcow2"
    else:
        with pytest.raises(ParameterError) as err:
            check_against_pool(want, row, "p1", new=True)
        assert err.value.param == "format"


@pytest.mark.parametrize("type_name", CREATABLE)
def test_volume_options_follow_the_table(type_name):
    row = pool_type(type_name)
    cases = {
        "encryption": dict(encryption={"format": "luks", "secret": {"uuid": "6b8c1c9e-6f0e-4c0a-9d1e-2f3a4b5c6d7e"}}),
        "permissions": dict(permissions={"mode": "0600"}),
        "preallocation": dict(preallocation="falloc"),
        "nocow": dict(nocow=True),
    }
    for option, extra in cases.items():
        want = desired(capacity="1G", **extra)
        if option in row.volume_options:
            check_against_pool(want, row, "p1", new=True)
        else:
            with pytest.raises(ParameterError) as err:
                check_against_pool(want, row, "p1", new=True)
            assert err.value.param == option, (option, err.value.msg)


@pytest.mark.parametrize("preallocation, fmt, allocation", [
    ("falloc", "raw", 1 << 30), ("full", "raw", 1 << 30), ("metadata", "qcow2", 0), ("off", None, 0), (None, None, 0),
])
def test_preallocation_sets_allocation(preallocation, fmt, allocation):
    row = pool_type("dir")
    want = desired(capacity="1G", format=fmt, preallocation=preallocation)
    check_against_pool(want, row, "p1", new=True)
    assert creation_spec(want, row, "v")["allocation"] == allocation


def test_backing_store_defaults_to_qcow2_on_file_pools():
    row = pool_type("dir")
    want = desired(backing_store={"path": "/images/base.qcow2", "format": "qcow2"})
    check_against_pool(want, row, "p1", new=True)
    spec = creation_spec(want, row, "v", backing_path="/images/base.qcow2")
    assert spec["format"] == "qcow2" and "capacity" not in spec
    assert parse_volume_xml(build_volume_xml(spec))["backing_store"] == {"path": "/images/base.qcow2", "format": "qcow2"}


@pytest.mark.parametrize("given, param", [
    (dict(capacity="10 foo"), "capacity"),
    (dict(capacity=0), "capacity"),
    (dict(name="a/b"), "name"),
    (dict(name=".."), "name"),
    (dict(cluster_size="3000"), "cluster_size"),
    (dict(capacity="1G", allocation="2G"), "allocation"),
    (dict(allocation="1M", preallocation="falloc"), "allocation"),
    (dict(clone_from={"name": "a"}, import_from={"src": "/x"}), "import_from"),
    (dict(import_from={"src": "/x", "checksum": "md7:00"}), "import_from.checksum"),
    (dict(reimport=True), "reimport"),
    (dict(backing_store={"path": "/x", "name": "y", "format": "raw"}), "backing_store"),
    (dict(encryption={"secret": {"uuid": "u", "usage": "v"}}), "encryption.secret"),
    (dict(wipe_algorithm="dod"), "wipe_algorithm"),
    (dict(state="absent", capacity="1G"), "capacity"),
    (dict(permissions={"mode": "999"}), "permissions.mode"),
])
def test_bad_parameters_name_the_parameter(given, param):
    with pytest.raises(ParameterError) as err:
        desired(**given)
    assert err.value.param == param


class FakeVolume:
    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name


class FakePool:
    def __init__(self, names):
        self.names = names

    def listAllVolumes(self, flags):  # noqa: N802  (libvirt's name)
        return [FakeVolume(n) for n in self.names]


def disk_handle(device, names, part_separator=None):
    entry = {"path": device}
    if part_separator is not None:
        entry["part_separator"] = part_separator
    return PoolHandle(FakePool(names), "d", {"type": "disk", "source": {"devices": [entry]}}, pool_type("disk"))


@pytest.mark.parametrize("device, names, separator, expected", [
    ("/dev/sdb", [], None, "sdb1"),
    ("/dev/sdb", ["sdb1", "sdb2"], None, "sdb3"),
    ("/dev/nvme0n1", ["nvme0n1p1"], None, "nvme0n1p2"),
    ("/dev/loop2", ["loop2p1", "loop2p3"], None, "loop2p2"),   # parted reuses the lowest free number
    ("/dev/mapper/mpatha", ["mpathap1"], True, "mpathap2"),
    ("/dev/mapper/dm1", ["dm11"], False, "dm12"),
])
def test_next_partition_name(device, names, separator, expected):
    handle = disk_handle(device, names, separator)
    assert next_partition_name(handle) == expected
    assert partition_number(handle, expected) == int(expected[len(partition_prefix(handle)):])


def test_a_name_of_another_device_is_no_partition_number():
    assert partition_number(disk_handle("/dev/loop2", []), "loop20p1") is None


# ---------------------------------------------------------------- names and numbers the host cannot take

FILE_OR_PARTITION = sorted(name for name, row in POOL_TYPES.items()
                           if row.disk_type == "file" or row.volume_naming == "partition")


@pytest.mark.parametrize("name, found", [("a\nb", "U+000A"), ("a\tb", "U+0009"), ("v\r", "U+000D"),
                                         ("\x1b[2J", "U+001B"), ("v\x7f", "U+007F")])
def test_name_with_control_characters(name, found):
    for state in ("present", "absent"):
        with pytest.raises(ParameterError) as err:
            desired(name=name, state=state)
        assert err.value.param == "name" and "(found %s)" % found in err.value.msg


@pytest.mark.parametrize("type_name", FILE_OR_PARTITION)
def test_name_longer_than_a_file_name(type_name):
    row = pool_type(type_name)
    for name in ("v" * 256, "\u00e9" * 128):
        with pytest.raises(ParameterError) as err:
            check_against_pool(desired(name=name, capacity="1G"), row, "p1", new=True)
        assert err.value.param == "name" and "256 bytes long" in err.value.msg
    if row.volume_naming != "partition":
        check_against_pool(desired(name="v" * 255, capacity="1G"), row, "p1", new=True)


@pytest.mark.parametrize("type_name", sorted(set(CREATABLE) - set(FILE_OR_PARTITION)))
def test_long_names_elsewhere_are_the_backend_s(type_name):
    check_against_pool(desired(name="v" * 300, capacity="1G"), pool_type(type_name), "p1", new=True)


def test_file_or_partition_types_are_these():
    assert FILE_OR_PARTITION == ["dir", "disk", "fs", "netfs", "vstorage"]


@pytest.mark.parametrize("timeout", [0, -1, -60])
def test_import_timeout_below_one_second(timeout):
    with pytest.raises(ParameterError) as err:
        desired(import_from={"src": "/img", "timeout": timeout})
    assert err.value.param == "import_from.timeout"


@pytest.mark.parametrize("mode, fragment", [(777, "decimal YAML integer (= 0o1411): quote it ('0777')"),
                                            ("1777", "beyond 0777"), (True, "boolean")])
def test_mode_libvirt_refuses(mode, fragment):
    with pytest.raises(ParameterError) as err:
        desired(permissions={"mode": mode})
    assert err.value.param == "permissions.mode" and fragment in err.value.msg


def test_integer_mode_is_its_value():
    assert desired(permissions={"mode": 0o640})["permissions"] == {"mode": "0640"}


CLONING = sorted(name for name, row in POOL_TYPES.items() if supports(row, "volume_clone"))


@pytest.mark.parametrize("type_name", CLONING)
def test_a_clone_is_the_kind_libvirt_makes_in_the_pool_type(type_name):
    """clone_from.mode unset or naming the table's clone_kind passes; the other kind is refused, saying why."""
    row = pool_type(type_name)
    other = "copy" if row.clone_kind == "cow" else "cow"
    for mode in (None, row.clone_kind):
        check_against_pool(desired(clone_from=dict(name="base", pool=None, mode=mode)), row, "p1", new=True)
    with pytest.raises(ParameterError) as err:
        check_against_pool(desired(clone_from=dict(name="base", pool=None, mode=other)), row, "p1", new=True)
    assert err.value.param == "clone_from.mode"
    assert ("cannot copy one" if row.clone_kind == "cow" else "backing_store") in err.value.msg, err.value.msg


def test_an_rbd_clone_is_made_of_an_image_of_its_own_pool():
    """libvirt's rbd backend looks the source's name up in the new image's pool, whatever pool it came from."""
    row = pool_type("rbd")
    check_against_pool(desired(clone_from=dict(name="base", pool="p1", mode=None)), row, "p1", new=True)
    with pytest.raises(ParameterError) as err:
        check_against_pool(desired(clone_from=dict(name="base", pool="images", mode=None)), row, "p1", new=True)
    assert err.value.param == "clone_from.pool" and "same pool" in err.value.msg
    assert [name for name, r in POOL_TYPES.items() if r.clone_kind == "cow"] == ["rbd"]
