# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes exactly as libvirt accepts them (virScaleInteger).

SI names (KB, MB, ...) are powers of 1000; the short forms (K, M, ...) and the
binary names (KiB, MiB, ...) are powers of 1024; a bare integer is bytes.
Ansible's ``human_to_bytes`` treats KB as 1024, which is why this table exists.
"""

from __future__ import annotations

import re

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError

_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}

# libvirt unit name (lower-cased) -> multiplier
UNITS = {"b": 1, "byte": 1, "bytes": 1}
for _letter, _power in _POWERS.items():
    UNITS[_letter] = 1024 ** _power
    UNITS[_letter + "ib"] = 1024 ** _power
    UNITS[_letter + "b"] = 1000 ** _power

# ASCII digits only ('\d' would take other scripts' digits, which int() reads but libvirt does not);
# a sign is matched so that '-1G' is reported as negative rather than as not a size.
_SIZE = re.compile(r"^\s*([-+]?[0-9]+)\s*([A-Za-z]*)\s*$")

# libvirt stores sizes as unsigned long long
MAX_BYTES = 2 ** 64 - 1


def to_bytes(value, param):
    """Return ``value`` (int bytes or '10G', '512 MiB', '1 TB') in bytes.

    Raises ParameterError naming ``param`` for anything libvirt would refuse.
    """
    if isinstance(value, bool):
        raise ParameterError(param, "expected a size, got a boolean")
    if isinstance(value, int):
        number, unit = value, "b"
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ParameterError(
                param, "'%s' is not a size: use an integer of bytes or a number with a libvirt unit "
                       "(b, KB, K, KiB, MB, M, MiB, GB, G, GiB, TB, T, TiB, PB, P, PiB, EB, E, EiB)" % value)
        number, unit = int(match.group(1)), (match.group(2) or "b")
    if number < 0:
        raise ParameterError(param, "a size cannot be negative (%s)" % value)
    multiplier = UNITS.get(unit.lower())
    if multiplier is None:
        raise ParameterError(
            param, "unknown unit '%s' in '%s' (libvirt accepts b, bytes, KB, K, KiB, MB, M, MiB, GB, G, GiB, "
                   "TB, T, TiB, PB, P, PiB, EB, E, EiB)" % (unit, value))
    result = number * multiplier
    if result > MAX_BYTES:
        raise ParameterError(param, "'%s' is larger than libvirt can store (%d bytes)" % (value, MAX_BYTES))
    return result


_BINARY_NAMES = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human(size):
    """Return ``size`` bytes as a person reads it: '512 bytes', '10 MiB', '1.5 GiB' (binary units, 2 decimals)."""
    power = 0
    while power < len(_BINARY_NAMES) - 1 and size >= 1024 ** (power + 1):
        power += 1
    if power == 0:
        return "%d bytes" % size
    text = ("%.2f" % (float(size) / 1024 ** power)).rstrip("0").rstrip(".")
    return "%s %s" % (text, _BINARY_NAMES[power])


def human_and_bytes(size):
    """Return ``size`` as '10 MiB (10485760 bytes)': readable, and exact."""
    return "%s (%d bytes)" % (human(size), size) if size >= 1024 else human(size)


def human_change(have, want):
    """Return a size change as 'from 10 MiB to 20 MiB (10485760 -> 20971520 bytes)'."""
    return "from %s to %s (%d -> %d bytes)" % (human(have), human(want), have, want)
