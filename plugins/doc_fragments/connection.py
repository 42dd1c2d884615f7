# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt connection options. Keep in sync with plugins/module_utils/connection.py."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - libvirt connection URI of the daemon to manage.
      - When not set, the E(LIBVIRT_DEFAULT_URI) environment variable is used, then V(qemu:///system).
      - The module runs on the hypervisor host; probes that decide whether a pool needs building look at
        that host's devices, so the URI should name the local daemon.
    type: str
    default: qemu:///system
requirements:
  - libvirt-python and lxml on the hypervisor host, for the Python that runs the module, or the distribution's
    python3-libvirt and python3-lxml for the system Python (the module then runs itself under that Python)
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Reports the actions the module would take and changes nothing.
  diff_mode:
    support: full
    description: Returns the declared fields before and after.
  platform:
    support: full
    platforms: posix
    description: Runs on the hypervisor host that libvirt manages.
"""

    INFO_ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Reads only; works the same in check mode.
  diff_mode:
    support: none
    description: Reads only; there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the hypervisor host that libvirt manages.
"""
