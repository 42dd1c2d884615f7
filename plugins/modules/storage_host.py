#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_host
short_description: Converge a hypervisor host's whole libvirt storage declaration in one task
version_added: 1.0.0
description:
  - Converges the secrets, the storage pools with their volumes, and the guest disks a host declares, in one
    task over one libvirt connection. Each item takes exactly the options of its own module
    (M(virtops.storage.storage_secret), M(virtops.storage.storage_pool), M(virtops.storage.storage_volume),
    M(virtops.storage.disk_attach)) without O(uri), and is converged by the same code, so the same declaration
    gives the same end state either way.
  - Every item is validated first (its options, the declaration's defaults merged in); a bad item fails the task
    before anything changes.
  - Then the whole declaration is planned, each object as its module plans it in check mode, safety refusals
    included (a shrink without C(allow_shrink), a volume in use, data at stake). An object refused
    anywhere in the declaration fails the task before the first change, and the error names its item and says
    that nothing was changed. When the plan changes nothing, the task ends there.
  - Else the objects are converged in dependency order, secrets, pools, volumes, disks. The first failure stops
    the run; the error says which object failed, what was done before it and what was not. What the plan could
    not see is checked when the run gets there (the volumes and disks inside a pool that the run itself makes or
    starts, or over a volume or secret it makes first).
  - Objects the declaration does not list are never touched. An object is removed only by C(state=absent) on its
    item.
  - The hypervisor_storage role of this collection is this module with its variables validated.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.ATTRIBUTES
options:
  secrets:
    description:
      - Secrets, each with the options of M(virtops.storage.storage_secret) (see there); their values are
        never shown.
    type: list
    elements: dict
    default: []
    suboptions:
      uuid:
        description: Secret uuid.
        type: str
      usage_type:
        description: Usage type.
        type: str
        choices: [ceph, iscsi, tls, volume, vtpm]
      usage_id:
        description: Usage id.
        type: str
      description:
        description: Description.
        type: str
      ephemeral:
        description: Kept in memory only.
        type: bool
      private:
        description: Its value is never read back from libvirt.
        type: bool
      value:
        description: The value as text.
        type: str
      value_b64:
        description: The value in base64.
        type: str
      update_value:
        description: When the value is set. Defaults to V(on_create).
        type: str
        choices: [on_create, always]
      state:
        description: V(present) or V(absent). Defaults to V(present).
        type: str
        choices: [present, absent]
      allow_in_use:
        description: Allow removing a secret that pools, volumes or guest disks reference.
        type: bool
  pools:
    description:
      - Storage pools, each a dict of the options of M(virtops.storage.storage_pool), plus C(volumes), a list of
        dicts of the options of M(virtops.storage.storage_volume) without C(pool) (it is the pool's name).
      - Options an item leaves out take the value of O(pool_defaults) (for a volume, O(volume_defaults)), then the
        module's own default.
    type: list
    elements: dict
    default: []
  disks:
    description:
      - Guest disks, each a dict of the options of M(virtops.storage.disk_attach).
    type: list
    elements: dict
    default: []
  pool_defaults:
    description: Options every pool item takes when it leaves them out (dicts are merged).
    type: dict
    default: {}
  volume_defaults:
    description: Options every volume item takes when it leaves them out (dicts are merged).
    type: dict
    default: {}
  return_facts:
    description: Return the facts of every object (RV(objects)); without it only the changes are returned.
    type: bool
    default: false
notes:
  - Check mode plans every object; the volumes and disks of a pool that the run would make or start are reported
    as to be converged once it runs (libvirt cannot be asked about a pool that does not run).
  - Tasks on the same objects take turns (host locks), as with the per-object modules.
seealso:
  - module: virtops.storage.storage_pool
  - module: virtops.storage.storage_volume
  - module: virtops.storage.storage_secret
  - module: virtops.storage.disk_attach
"""

EXAMPLES = r"""
- name: The storage of a hypervisor
  virtops.storage.storage_host:
    pool_defaults:
      state: active
      autostart: true
    volume_defaults:
      format: qcow2
    secrets:
      - usage_type: volume
        usage_id: /var/lib/libvirt/images/secure.qcow2
        value: "{{ vault_luks_passphrase }}"
    pools:
      - name: images
        type: dir
        target:
          path: /var/lib/libvirt/images
        volumes:
          - name: golden.qcow2
            import_from:
              src: https://images.example.com/debian-12.qcow2
              checksum: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
          - name: vm1.qcow2
            capacity: 20G
            backing_store:
              name: golden.qcow2
              format: qcow2
          - name: secure.qcow2
            capacity: 10G
            encryption:
              secret:
                usage: /var/lib/libvirt/images/secure.qcow2
    disks:
      - domain: vm1
        volume:
          pool: images
          name: vm1.qcow2
  register: host_storage

- name: What changed
  ansible.builtin.debug:
    var: host_storage.changes
"""

RETURN = r"""
summary:
  description: Per kind (secrets, pools, volumes, disks), how many objects changed, were unchanged, or were not
    done (after a failure).
  returned: always
  type: dict
  sample: {"pools": {"changed": 1, "unchanged": 3, "not_done": 0}}
changes:
  description: The objects with actions, in the order they were converged.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: secret, pool, volume or disk.
      type: str
      returned: success
    id:
      description: The object (a pool's name, a volume's C(pool/name), a disk's C(domain:source)).
      type: str
      returned: success
    actions:
      description: What was done (or would be, in check mode).
      type: list
      elements: str
      returned: success
not_done:
  description: After a failure, the objects not converged, the failed one first (C(kind id)).
  returned: failure
  type: list
  elements: str
objects:
  description:
    - Every object with its facts (as its module returns them under pool, volume, secret or disk).
  returned: when O(return_facts=true)
  type: list
  elements: dict
  contains:
    kind:
      description: secret, pool, volume or disk.
      type: str
      returned: success
    id:
      description: The object.
      type: str
      returned: success
    facts:
      description: Its facts.
      type: dict
      returned: success
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.host import HOST_ARGUMENT_SPEC, HostConverger
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule


ARGUMENT_SPEC = dict(HOST_ARGUMENT_SPEC, **CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module, HostConverger)


if __name__ == "__main__":
    main()
