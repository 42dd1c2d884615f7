#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_secret_info
short_description: Read libvirt secrets and what references them, never their values
version_added: 1.0.0
description:
  - Returns every libvirt secret, or one by O(uuid) or by usage (O(usage_type) and O(usage_id)), with its
    uuid, usage, description and flags, and the pools, volumes and guest disks that reference it.
  - Never reads or returns a value, and never changes anything.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.INFO_ATTRIBUTES
options:
  uuid:
    description:
      - UUID of one secret.
      - A missing secret is not an error; RV(exists) is V(false) and RV(secrets) empty.
    type: str
  usage_type:
    description:
      - Usage type of one secret, with O(usage_id).
    type: str
    choices: [ceph, iscsi, volume, tls, vtpm]
  usage_id:
    description:
      - Usage id of one secret (Ceph name, iSCSI target name, volume path, ...), with O(usage_type).
    type: str
seealso:
  - module: virtops.storage.storage_secret
"""

EXAMPLES = r"""
- name: Read every secret
  virtops.storage.storage_secret_info:
  register: all_secrets

- name: List the secrets nothing references
  ansible.builtin.debug:
    msg: "{{ item.uuid }} ({{ item.usage_type }} {{ item.usage_id }}) is unused"
  loop: "{{ all_secrets.secrets }}"
  when: item.referenced_by.pools + item.referenced_by.volumes + item.referenced_by.guests == []

- name: Read the CHAP secret of a SAN
  virtops.storage.storage_secret_info:
    usage_type: iscsi
    usage_id: san1-chap
  register: chap
"""

RETURN = r"""
exists:
  description: Whether the secret named by O(uuid) or by usage exists.
  returned: when O(uuid) or O(usage_type) is set
  type: bool
secrets:
  description: The secrets, sorted by usage type, usage id and uuid. Never a value.
  returned: always
  type: list
  elements: dict
  contains:
    uuid:
      description: UUID of the secret.
      type: str
      returned: success
    usage_type:
      description: Usage type (ceph, iscsi, volume, tls, vtpm); null for a secret without usage.
      type: str
      returned: success
    usage_id:
      description: Usage id; null without usage.
      type: str
      returned: success
    description:
      description: Description; null when it has none.
      type: str
      returned: success
    ephemeral:
      description: Whether the secret is kept in memory only.
      type: bool
      returned: success
    private:
      description: Whether libvirt refuses to reveal the value.
      type: bool
      returned: success
    referenced_by:
      description:
        - What names the secret, by uuid or by usage. Volumes are read in active pools only.
      type: dict
      returned: success
      contains:
        pools:
          description: Names of the pools whose source auth names the secret.
          type: list
          elements: str
          returned: success
        volumes:
          description: C(pool/volume) of the volumes whose encryption names the secret.
          type: list
          elements: str
          returned: success
        guests:
          description: C(guest target) (for example C(vm1 vdb)) of the guest disks whose auth or encryption
            names the secret, in the persistent or the live definition.
          type: list
          elements: str
          returned: success
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule
from ansible_collections.virtops.storage.plugins.module_utils.secret import SecretInfoReader
from ansible_collections.virtops.storage.plugins.module_utils.secret_xml import USAGE_TYPES


ARGUMENT_SPEC = dict(
    uuid=dict(type="str"),
    usage_type=dict(type="str", choices=sorted(USAGE_TYPES)),
    usage_id=dict(type="str"),
)
ARGUMENT_SPEC.update(CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, required_together=[("usage_type", "usage_id")],
                                supports_check_mode=True)
    run_module(module, SecretInfoReader)


if __name__ == "__main__":
    main()
