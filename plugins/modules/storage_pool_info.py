#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_pool_info
short_description: Read libvirt storage pools, their sizes and thin-provisioning ratio
version_added: 1.0.0
description:
  - Returns the facts of every storage pool, or of one pool by name, with its volume count and
    overcommit ratio. Never changes anything.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.INFO_ATTRIBUTES
options:
  name:
    description:
      - Name of one pool. When not set, every pool (defined or transient) is returned.
      - A missing pool is not an error; RV(exists) is V(false) and RV(pools) empty.
    type: str
seealso:
  - module: virtops.storage.storage_pool
"""

EXAMPLES = r"""
- name: Read every pool
  virtops.storage.storage_pool_info:
  register: all_pools

- name: Warn about thinly provisioned pools
  ansible.builtin.debug:
    msg: "{{ item.name }} is overcommitted {{ item.overcommit_ratio }}x"
  loop: "{{ all_pools.pools | selectattr('overcommit_ratio', 'gt', 1.0) }}"

- name: Read one pool
  virtops.storage.storage_pool_info:
    name: images
  register: images
"""

RETURN = r"""
exists:
  description: Whether the pool named by O(name) exists.
  returned: when O(name) is set
  type: bool
pools:
  description: The pools, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Pool name.
      type: str
      returned: success
    uuid:
      description: Pool UUID.
      type: str
      returned: success
    type:
      description: Pool type.
      type: str
      returned: success
    state:
      description: libvirt's pool state (inactive, building, running, degraded, inaccessible).
      type: str
      returned: success
    active:
      description: Whether the pool is running.
      type: bool
      returned: success
    persistent:
      description: Whether the pool is defined (not transient).
      type: bool
      returned: success
    autostart:
      description: Whether the pool starts with the daemon.
      type: bool
      returned: success
    capacity:
      description: Capacity in bytes (0 when inactive).
      type: int
      returned: success
    allocation:
      description: Allocation in bytes.
      type: int
      returned: success
    available:
      description: Free space in bytes.
      type: int
      returned: success
    target_path:
      description: Target path; null for network pools.
      type: str
      returned: success
    source:
      description: The pool's source, in the shape of storage_pool's source option.
      type: dict
      returned: success
    xml:
      description: The full pool XML as libvirt reports it (for reference; the fields above are what to use).
      type: str
      returned: success
    volume_count:
      description: Number of volumes; null when the pool is inactive.
      type: int
      returned: success
    overcommit_ratio:
      description:
        - Sum of the volumes' capacities divided by the pool's capacity; above 1.0 the volumes could
          outgrow the pool. Null when the pool is inactive or has no capacity.
      type: float
      returned: success
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule
from ansible_collections.virtops.storage.plugins.module_utils.pool import PoolInfoReader


ARGUMENT_SPEC = dict(name=dict(type="str"))
ARGUMENT_SPEC.update(CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module, PoolInfoReader)


if __name__ == "__main__":
    main()
