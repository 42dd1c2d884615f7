#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_secret
short_description: Define, update and remove libvirt secrets (Ceph keys, iSCSI CHAP passwords, LUKS passphrases)
version_added: 1.0.0
description:
  - Converges one libvirt secret to the declared definition (usage, description, flags) and value, or
    removes it.
  - Tasks of parallel jobs that converge the same secret on one host take turns. Each holds a host lock
    on the secret's uuid and usage (a C(flock) under C(/run/lock/virtops-storage)) while it reads, plans
    and changes it.
  - A secret is found by O(uuid), else by its usage (O(usage_type) and O(usage_id)). libvirt allows one
    secret per usage, so a secret defined without a uuid keeps the uuid libvirt gives it and is found again
    by its usage on the next run.
  - The value is never shown, at any verbosity; not in the result, the diff, a warning or an error message.
  - B(Value policy.) libvirt returns the value of a non-private secret, never that of a private one. The
    value of a non-private secret is compared with the declared one and set only when it differs, whatever
    O(update_value) says. The value of a private secret is set when the module creates (or re-creates) the
    secret; with O(update_value=always) it is also set on an existing secret, unless the fingerprint the
    module keeps of the value it last set shows that the declared value is already there. The fingerprint
    is a salted PBKDF2-SHA256 hash in a file only root can read under C(/var/lib/virtops-storage/secrets)
    on the hypervisor host (libvirt itself keeps the value, in clear, under C(/etc/libvirt/secrets)). A
    value changed behind the module's back (C(virsh secret-set-value)) is not seen on a private secret.
  - B(Flags.) Making a secret private, or changing O(ephemeral), is done in place. libvirt refuses to make a
    private secret non-private or to change the usage of a secret, so the module then re-creates it with the
    same uuid, so that references by uuid keep working, and sets the value again. That needs the value, the
    current one of a non-private secret or the declared one. For a private secret the declared value is taken
    only when the module's fingerprint shows it is the current one, or with O(update_value=always).
    Otherwise the task fails and changes nothing. A new usage id while pools or disks name the secret by its
    old one needs O(allow_in_use=true).
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.ATTRIBUTES
options:
  uuid:
    description:
      - UUID of the secret. When set, the secret is found by it, and a new secret is defined with it.
      - When not set, the secret is found by its usage, and a new one gets a uuid from libvirt (returned in
        RV(secret.uuid)).
    type: str
  usage_type:
    description:
      - What the secret is used for. V(ceph) for a Ceph (cephx) key of an rbd pool or disk, V(iscsi) for an
        iSCSI CHAP password, V(volume) for the passphrase of a LUKS volume, V(tls) for the passphrase of a TLS
        private key, V(vtpm) for the key of a vTPM's state.
      - Required to define a new secret, and with O(usage_id).
    type: str
    choices: [ceph, iscsi, volume, tls, vtpm]
  usage_id:
    description:
      - The usage id, unique per usage type. For V(ceph), V(tls) and V(vtpm) a name of your choosing (for
        Ceph, often the client name such as C(client.libvirt)), without C(/). For V(iscsi) a name of your
        choosing for the target, used as O(virtops.storage.storage_pool#module:source.auth.secret.usage)
        by iSCSI pools. For V(volume) the absolute path of the encrypted volume.
      - Pools and disks may name the secret by this usage id instead of its uuid.
    type: str
  description:
    description:
      - Free text describing the secret. Left as it is when not set.
    type: str
  ephemeral:
    description:
      - Keep the secret in memory only, never on disk; it is lost when libvirtd restarts.
      - When not set, V(false) for a new secret, and an existing secret keeps its flag.
    type: bool
  private:
    description:
      - Never reveal the value to any caller of libvirt (C(virsh secret-get-value) fails).
      - When not set, V(true) for a new secret (private by default), and an existing secret keeps its flag.
      - A private secret's value cannot be compared; see the value policy above and O(update_value).
    type: bool
  value:
    description:
      - The value as text (encoded as UTF-8), for example an iSCSI CHAP password or a LUKS passphrase.
      - Mutually exclusive with O(value_b64). When neither is set the value is left as it is, and a new secret
        is defined without one (with a warning).
    type: str
  value_b64:
    description:
      - The value, base64-encoded, as Ceph prints keys (C(ceph auth get-key)) and C(virsh secret-set-value
        --base64) takes them; line breaks and spaces are ignored. Use it for binary values.
      - A Ceph key as C(ceph auth get-key) prints it is already base64; pass it as O(value_b64). Passed as
        O(value) the text itself would be stored, and Ceph would refuse it.
    type: str
  update_value:
    description:
      - When the value of an existing private secret is set; see the value policy above.
      - V(on_create) sets it only when the module creates or re-creates the secret. A declared value that is
        not the one the module last set gives a warning.
      - V(always) sets it whenever the module cannot show that the declared value is already set.
      - A non-private secret's value is compared and converged either way.
      - A new value of a V(volume) secret does not re-encrypt the LUKS volumes created with the old one; they no
        longer open with it (the module warns, naming them).
    type: str
    choices: [on_create, always]
    default: on_create
  state:
    description:
      - V(present) defines the secret (or converges it) and sets its value by the policy above.
      - V(absent) undefines it. Refused while a defined pool, a volume of an active pool or a guest disk
        references it (by uuid, or by usage for the matching type; a LUKS volume also by its path, the usage id
        of a volume secret), unless O(allow_in_use=true); the error names them.
    type: str
    choices: [present, absent]
    default: present
  allow_in_use:
    description:
      - With O(state=absent), remove the secret even though pools, volumes or guests reference it. They fail
        to start or to open their storage until it is defined again.
      - With a new O(usage_id), change it even though pools or guest disks name the secret by its old usage id.
    type: bool
    default: false
notes:
  - The value never travels on a command line or through a temporary file; it goes to libvirt through its API.
seealso:
  - module: virtops.storage.storage_secret_info
  - module: virtops.storage.storage_pool
  - module: virtops.storage.storage_volume
  - name: libvirt secret XML format
    description: The secret XML this module writes.
    link: https://libvirt.org/formatsecret.html
"""

EXAMPLES = r"""
- name: Ceph key for the libvirt client, then an rbd pool that uses it
  block:
    - name: Ceph key, as 'ceph auth get-key client.libvirt' prints it
      virtops.storage.storage_secret:
        usage_type: ceph
        usage_id: client.libvirt
        description: cephx key of client.libvirt
        value_b64: "{{ ceph_libvirt_key }}"
        update_value: always

    - name: Rbd pool authenticating with that key
      virtops.storage.storage_pool:
        name: rbd-vms
        type: rbd
        source:
          hosts:
            - name: mon1.example.com
          name: vms
          auth:
            type: ceph
            username: libvirt
            secret:
              usage: client.libvirt
        state: active

- name: CHAP password of an iSCSI target
  virtops.storage.storage_secret:
    usage_type: iscsi
    usage_id: san1-chap
    value: "{{ vault_san1_chap_password }}"

- name: LUKS passphrase, then the encrypted volume
  block:
    - name: Passphrase secret with a fixed uuid
      virtops.storage.storage_secret:
        uuid: 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f
        usage_type: volume
        usage_id: /var/lib/libvirt/images/secure.qcow2
        value: "{{ vault_luks_passphrase }}"

    - name: Encrypted volume
      virtops.storage.storage_volume:
        pool: default
        name: secure.qcow2
        capacity: 10GiB
        format: qcow2
        encryption:
          format: luks
          secret:
            uuid: 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f

- name: Remove a secret nothing uses any more
  virtops.storage.storage_secret:
    usage_type: iscsi
    usage_id: old-san-chap
    state: absent
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) changed.
  returned: always
  type: bool
secret:
  description: The secret after the task (in check mode, as it is now); null when it does not exist. Never
    the value.
  returned: always
  type: dict
  contains:
    uuid:
      description: UUID of the secret.
      type: str
      returned: success
      sample: 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f
    usage_type:
      description: Usage type (ceph, iscsi, volume, tls, vtpm); null for a secret without usage.
      type: str
      returned: success
      sample: ceph
    usage_id:
      description: Usage id (Ceph name, iSCSI target name, volume path, ...); null without usage.
      type: str
      returned: success
      sample: client.libvirt
    description:
      description: Description of the secret; null when it has none.
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
actions:
  description: What the task did (in check mode, would do), in order. Never the value.
  returned: always
  type: list
  elements: str
  sample: ["define secret ceph client.libvirt", "set the value of secret ceph client.libvirt"]
diff:
  description: The secret's fields before and after, in diff mode. When the value changes, a C(value) key
    says so with a placeholder; it never holds the value.
  returned: when diff mode is on
  type: dict
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule
from ansible_collections.virtops.storage.plugins.module_utils.secret import (
    SECRET_ARGUMENT_SPEC, SECRET_CONSTRAINTS, SecretConverger)


ARGUMENT_SPEC = dict(SECRET_ARGUMENT_SPEC, **CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **SECRET_CONSTRAINTS)
    run_module(module, SecretConverger)


if __name__ == "__main__":
    main()
