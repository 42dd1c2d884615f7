"""units.to_bytes: every libvirt size unit (virScaleInteger), and every input it must refuse."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils import units
from ansible_collections.virtops.storage.plugins.module_utils.units import MAX_BYTES, UNITS, to_bytes

LETTERS = (("k", 1), ("m", 2), ("g", 3), ("t", 4), ("p", 5), ("e", 6))

# (unit as written, multiplier): libvirt's short forms (K) and binary names (KiB) are powers of
# 1024, its SI names (KB) powers of 1000; b, byte and bytes are 1. Unit names ignore case.
UNIT_CASES = [("b", 1), ("B", 1), ("byte", 1), ("Byte", 1), ("bytes", 1), ("BYTES", 1)]
for _letter, _power in LETTERS:
    UNIT_CASES += [
        (_letter.upper(), 1024 ** _power), (_letter, 1024 ** _power),
        (_letter.upper() + "iB", 1024 ** _power), (_letter + "ib", 1024 ** _power),
        (_letter.upper() + "IB", 1024 ** _power),
        (_letter.upper() + "B", 1000 ** _power), (_letter + "b", 1000 ** _power),
        (_letter.upper() + "b", 1000 ** _power),
    ]


@pytest.mark.parametrize("unit, multiplier", UNIT_CASES, ids=[u for u, m in UNIT_CASES])
def test_every_libvirt_unit(unit, multiplier):
    assert to_bytes("3" + unit, "capacity") == 3 * multiplier
    assert to_bytes("3 " + unit, "capacity") == 3 * multiplier


@pytest.mark.parametrize("value, expected", [
    ("1KB", 1000), ("1KiB", 1024), ("1K", 1024), ("1k", 1024), ("1kB", 1000), ("1kib", 1024),
    ("1MB", 1000000), ("1MiB", 1048576), ("1M", 1048576),
    ("10G", 10 * 1024 ** 3), ("10GB", 10 * 10 ** 9), ("10 GiB", 10 * 1024 ** 3),
    ("1T", 1024 ** 4), ("1TB", 10 ** 12), ("1P", 1024 ** 5), ("1PB", 10 ** 15),
    ("1E", 1024 ** 6), ("1EB", 10 ** 18), ("15EiB", 15 * 1024 ** 6),
])
def test_si_and_binary_units_differ(value, expected):
    assert to_bytes(value, "capacity") == expected


@pytest.mark.parametrize("value, expected", [
    (0, 0), (1, 1), (512, 512), ("0", 0), ("512", 512), (" 512 ", 512), ("  7 M ", 7 * 1024 ** 2),
    ("0G", 0), ("+5K", 5 * 1024), (MAX_BYTES, MAX_BYTES), (str(MAX_BYTES), MAX_BYTES),
    ("18446744073709551615b", MAX_BYTES), ("17EB", 17 * 10 ** 18),
])
def test_plain_numbers_are_bytes(value, expected):
    assert to_bytes(value, "capacity") == expected


def test_unit_table_is_exactly_libvirts():
    names = set(["b", "byte", "bytes"])
    for letter, dummy in LETTERS:
        names |= set([letter, letter + "b", letter + "ib"])
    assert set(UNITS) == names
    assert all(name == name.lower() for name in UNITS)


@pytest.mark.parametrize("value, fragment", [
    ("10X", "unknown unit 'X'"),
    ("10 KiBB", "unknown unit"),
    ("10 kibibytes", "unknown unit"),
    ("10 iB", "unknown unit"),
    ("10 bb", "unknown unit"),
    ("10 Z", "unknown unit"),
    ("10 ZiB", "unknown unit"),
    ("10 Y", "unknown unit"),
    ("G", "is not a size"),
    ("", "is not a size"),
    ("   ", "is not a size"),
    ("1.5G", "is not a size"),
    ("1,5G", "is not a size"),
    ("ten", "is not a size"),
    ("0x10", "is not a size"),
    ("1e3", "is not a size"),
    ("10 G B", "is not a size"),
    ("\u0663G", "is not a size"),  # ARABIC-INDIC DIGIT THREE: int() reads it, libvirt does not
    (1.5, "is not a size"),
    (None, "is not a size"),
    ([1], "is not a size"),
])
def test_bad_sizes(value, fragment):
    with pytest.raises(ParameterError) as caught:
        to_bytes(value, "capacity")
    assert caught.value.param == "capacity"
    assert caught.value.msg.startswith("capacity: ")
    assert fragment in caught.value.msg


@pytest.mark.parametrize("value", [-1, -1024, "-1", "-1G", " -5 KiB"])
def test_negative_sizes(value):
    with pytest.raises(ParameterError) as caught:
        to_bytes(value, "allocation")
    assert caught.value.param == "allocation"
    assert "cannot be negative" in caught.value.msg


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_sizes(value):
    # bool is an int subclass: True must not become 1 byte
    with pytest.raises(ParameterError) as caught:
        to_bytes(value, "capacity")
    assert "boolean" in caught.value.msg


@pytest.mark.parametrize("value", [
    MAX_BYTES + 1, str(MAX_BYTES + 1), "16EiB", "16E", "16384PiB", "19EB", "18446744073709551616b",
    "99999999999999999999999G",
])
def test_overflow(value):
    with pytest.raises(ParameterError) as caught:
        to_bytes(value, "capacity")
    assert "larger than libvirt can store" in caught.value.msg


def test_largest_values_that_fit():
    assert to_bytes("15E", "capacity") == 15 * 2 ** 60
    assert to_bytes("16383PiB", "capacity") == 16383 * 2 ** 50
    assert to_bytes("18EB", "capacity") == 18 * 10 ** 18
    assert MAX_BYTES == 2 ** 64 - 1


@pytest.mark.parametrize("size, text", [
    (0, "0 bytes"), (512, "512 bytes"), (1023, "1023 bytes"), (1024, "1 KiB"), (1536, "1.5 KiB"),
    (10 * 1024 ** 2, "10 MiB"), (105906176, "101 MiB"), (1024 ** 3 - 1, "1024 MiB"), (3 * 1024 ** 3 // 2, "1.5 GiB"),
    (16 * 1024 ** 4 - 4096, "16 TiB"), (2 ** 60, "1 EiB"), (2 ** 64 - 1, "16 EiB"),
])
def test_human(size, text):
    assert units.human(size) == text


def test_human_and_bytes_and_change():
    assert units.human_and_bytes(100) == "100 bytes"
    assert units.human_and_bytes(10485760) == "10 MiB (10485760 bytes)"
    assert units.human_change(10485760, 20971520) == "from 10 MiB to 20 MiB (10485760 -> 20971520 bytes)"
