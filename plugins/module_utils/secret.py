# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt secrets: the converger behind storage_secret, the reader behind storage_secret_info.

The value policy. libvirt returns the value of a non-private secret and never
that of a private one. A non-private secret's value is compared with the
declared one and set only when it differs. For a private secret,
``update_value: on_create`` sets the value only when the module creates (or
re-creates) the secret; ``always`` sets it unless the fingerprint kept of the
value this collection last set matches the declared one. The fingerprint is
a salted PBKDF2-SHA256 hash in a record only root can read (libvirt itself
keeps the value in clear base64 under /etc/libvirt/secrets).

No value ever enters a message, a warning, a diff or a result: the decoded
value and its base64 and hex forms are added to the module's no_log values
as well, so that even an accident is masked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, libvirt
from ansible_collections.virtops.storage.plugins.module_utils.converge import Action, Converger
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError)
from ansible_collections.virtops.storage.plugins.module_utils.params import canonical_uuid, check_text
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import DISK_SECRET_TYPES
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import parse_pool_xml
from ansible_collections.virtops.storage.plugins.module_utils.records import RecordStore, record_dirs
from ansible_collections.virtops.storage.plugins.module_utils.secret_xml import (
    USAGE_TYPE_NAMES, USAGE_TYPES, build_secret_xml, parse_secret_xml)

FACT_FIELDS = ("uuid", "usage_type", "usage_id", "description", "ephemeral", "private")
# the fields a redefinition changes in place (usage and private -> non-private need a re-creation)
_MUTABLE_FIELDS = ("description", "ephemeral", "private")
FINGERPRINT_ITERATIONS = 200000
MIN_MASKED_BYTES = 4


# ---------------------------------------------------------------- value

def decode_value(params):
    """Return the declared value (bytes) from ``value`` or ``value_b64``, or None.

    Raises ParameterError naming the option when it is invalid; the message
    never shows the value.
    """
    if params.get("value") is not None:
        if params["value"] == "":
            raise ParameterError("value", "must not be empty (libvirt refuses an empty secret value)")
        return params["value"].encode("utf-8")
    if params.get("value_b64") is not None:
        text = "".join(params["value_b64"].split())  # keyrings and base64(1) wrap and end lines
        try:
            value = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ParameterError("value_b64", "is not valid base64 (the value is not shown)")
        if not value:
            raise ParameterError("value_b64", "decodes to nothing (libvirt refuses an empty secret value)")
        return value
    return None


def value_forms(value):
    """The spellings of ``value`` that must never be written: itself (when text), base64 and hex.

    Ansible masks each of them wherever it appears in the result. Forms of a
    value shorter than MIN_MASKED_BYTES are left out: masking two hex digits
    would garble uuids and sizes, and such a value is no secret anyway.
    """
    if len(value) < MIN_MASKED_BYTES:
        return set()
    forms = {base64.b64encode(value).decode("ascii"), value.hex(), value.hex().upper()}
    try:
        forms.add(value.decode("utf-8"))
    except UnicodeDecodeError:
        pass  # binary: only its encoded forms could appear in text
    return forms


def fingerprint(value, salt, iterations=FINGERPRINT_ITERATIONS):
    """The salted PBKDF2-SHA256 fingerprint (hex) of a value."""
    return hashlib.pbkdf2_hmac("sha256", value, salt, iterations).hex()


class ValueRecords(RecordStore):
    """Fingerprints of the values this collection set, one record per (connection, secret uuid)."""

    def __init__(self, directories=None):
        super().__init__(directories or record_dirs("secrets"))

    @staticmethod
    def key(uri, uuid):
        return "%s %s" % (uri, uuid)

    def remember(self, uri, uuid, value):
        """Record the fingerprint of the value just set."""
        salt = os.urandom(16)
        self.write(self.key(uri, uuid), {"kdf": "pbkdf2-sha256", "iterations": FINGERPRINT_ITERATIONS,
                                         "salt": salt.hex(), "fingerprint": fingerprint(value, salt)})

    def matches(self, uri, uuid, value):
        """True / False when a record says whether ``value`` is the one last set; None without a record."""
        record = self.read(self.key(uri, uuid))
        try:
            expected = fingerprint(value, bytes.fromhex(record["salt"]), int(record["iterations"]))
            return hmac.compare_digest(expected, record["fingerprint"])
        except (TypeError, KeyError, ValueError, OverflowError):
            return None  # no record, or one this version cannot read: as good as none

    def forget(self, uri, uuid):
        self.remove(self.key(uri, uuid))


# ---------------------------------------------------------------- facts and references

def secret_facts(secret):
    """Return the facts of a ``virSecret`` (FACT_FIELDS): never its value."""
    spec = parse_secret_xml(call("reading secret %s" % secret.UUIDString(), secret.XMLDesc, 0))
    return dict((field, spec.get(field)) for field in FACT_FIELDS)


def describe(spec):
    """'ceph client.admin' or the uuid: how messages name a secret."""
    if spec.get("usage_type"):
        return "%s %s" % (spec["usage_type"], spec["usage_id"])
    return spec["uuid"]


def _refers_to(reference, usage_type, spec):
    """True when a ``{'uuid'|'usage'}`` reference of usage type ``usage_type`` names the secret ``spec``."""
    if not reference:
        return False
    if reference.get("uuid"):
        return reference["uuid"].lower() == (spec.get("uuid") or "").lower()
    return bool(reference.get("usage")) and reference["usage"] == spec.get("usage_id") \
        and usage_type == spec.get("usage_type")


def _pool_auths(pool):
    """(name, the <auth> of its persistent definition and, when running, of the one it started with)."""
    name = pool.name()
    flags = (libvirt.VIR_STORAGE_XML_INACTIVE, 0) if call(
        "reading pool %s state" % name, pool.isActive) else (libvirt.VIR_STORAGE_XML_INACTIVE,)
    auths = [parse_pool_xml(call("reading pool %s XML" % name, pool.XMLDesc, flag)).get("source", {}).get("auth")
             for flag in flags]
    return name, [auth for auth in auths if auth]


class ReferenceScan:
    """Everything on the connection that names a secret: pool auth, volume and guest disk encryption, disk auth.

    Read once, then asked per secret; volumes are read only when ``volumes``
    is true (only volume secrets are referenced by volumes).
    """

    def __init__(self, connection, volumes=True):
        self.pools = []      # (pool name, reference, usage type)
        self.volumes = []    # ('pool/volume', reference, usage type)
        self.guests = []     # ('guest disk-target', reference, usage type)
        for name, auths in connection.read_each_pool(_pool_auths):
            for auth in auths:
                self.pools.append((name, {"uuid": auth.get("secret_uuid"), "usage": auth.get("secret_usage")},
                                   DISK_SECRET_TYPES.get(auth.get("type"))))
        for where, spec in connection.volume_specs() if volumes else ():
            encryption = spec.get("encryption")
            if encryption:
                if encryption.get("secret"):
                    self.volumes.append((where, encryption["secret"], "volume"))
                # libvirt forgets the secret of a volume it re-reads from disk (a pool restart), but a
                # volume secret's usage id is the volume's path
                self.volumes.append((where, {"usage": spec.get("path")}, "volume"))
        for guest, disks in connection.guest_disks():
            for disk in disks:
                where = "%s %s" % (guest, (disk.get("target") or {}).get("dev", "?"))
                source = disk.get("source") or {}
                secret = (source.get("auth") or {}).get("secret")
                if secret:
                    self.guests.append((where, secret, secret.get("type")))
                secret = (source.get("encryption") or {}).get("secret")
                if secret:  # a disk's LUKS passphrase lives in a secret of usage type volume
                    self.guests.append((where, secret, "volume"))

    def references_to(self, spec):
        """Return {'pools', 'volumes', 'guests'}: sorted names of what refers to the secret ``spec``."""
        result = {}
        for kind in ("pools", "volumes", "guests"):
            result[kind] = sorted(set(name for name, reference, usage_type in getattr(self, kind)
                                      if _refers_to(reference, usage_type, spec)))
        return result


def check_secret_reference(connection, reference, usage_type, param, must_exist):
    """Check that the secret a pool or volume names exists with usage type ``usage_type``.

    ``reference`` is ``{'uuid': ...}`` or ``{'usage': <usage id>}``. A secret of
    another usage type is a ParameterError naming ``param``; a missing one too
    when ``must_exist``, else the returned warning text (check mode: an
    earlier task may create it). Returns the ``virSecret`` or a warning.
    """
    how = "uuid" if reference.get("uuid") else "usage"
    found = connection.lookup_secret(uuid=reference.get("uuid"), usage=(usage_type, reference.get("usage")))
    if found is None:
        text = "no libvirt secret with %s %s (usage type %s): define it first, for example with " \
               "virtops.storage.storage_secret" % (how, reference[how], usage_type)
        if must_exist:
            raise ParameterError(param, text)
        return "%s: %s" % (param, text)
    have = USAGE_TYPE_NAMES.get(found.usageType(), str(found.usageType()))
    if have != usage_type:
        raise ParameterError(param, "secret %s %s has usage type %s, not %s" % (how, reference[how], have, usage_type))
    return found


# ---------------------------------------------------------------- converger

class SecretConverger(Converger):
    """Converges one libvirt secret: its definition, its value (see the policy above) or its absence."""

    result_key = "secret"

    def __init__(self, module, connection, records=None):
        super().__init__(module, connection)
        self.records = records or ValueRecords()
        self.secret = None
        self.value = None
        self._value_action = False
        self._scan = None

    # -- read
    def read_desired(self):
        params = self.params
        uuid, usage = secret_identity(params)
        if not uuid and not usage:
            raise ParameterError("usage_type", "name the secret by usage_type and usage_id, or by uuid")
        usage_type, usage_id = usage or (None, None)
        if params.get("description") is not None:
            check_text(params["description"], "description", one_line=False)
        self.value = decode_value(params)
        if self.value is not None:
            self.module.no_log_values.update(value_forms(self.value))
        spec = {"uuid": uuid, "usage_type": usage_type, "usage_id": usage_id,
                "description": params.get("description"),
                "ephemeral": params.get("ephemeral"), "private": params.get("private")}
        self.declared = dict((k, v) for k, v in spec.items() if v is not None)
        return {"spec": self.declared, "state": params["state"]}

    def lock_names(self, desired):
        # a task may name the secret by uuid, another by usage: each name it is known by
        spec = desired["spec"]
        names = ["secret/uuid/" + spec["uuid"]] if spec.get("uuid") else []
        if spec.get("usage_type"):
            names.append("secret/usage/%s/%s" % (spec["usage_type"], spec["usage_id"]))
        return names

    def read_current(self):
        uuid, usage = secret_identity(self.params)
        self.secret = self.connection.lookup_secret(uuid=uuid, usage=usage)
        if uuid and usage:
            holder = self.connection.lookup_secret(usage=usage)
            if holder is not None and holder.UUIDString() != uuid:
                raise ParameterError("uuid", "usage %s %s belongs to secret %s, not to %s: libvirt allows one secret "
                                     "per usage (name that uuid, or another usage_id)" % (
                                         usage[0], usage[1], holder.UUIDString(), uuid))
        if self.secret is None:
            return None
        spec = parse_secret_xml(call("reading secret %s" % self.secret.UUIDString(), self.secret.XMLDesc, 0))
        value = None if spec["private"] else self._read_value()
        if value is not None:
            self.module.no_log_values.update(value_forms(value))
        return {"spec": spec, "value": value}

    def _read_value(self):
        """The value of a non-private secret (bytes), None when it has none. Kept internal, never reported."""
        try:
            return self.secret.value(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_SECRET:
                return None
            raise LibvirtCallError("reading the value of secret %s" % self.secret.UUIDString(), exc)

    def facts(self):
        if self.secret is None:
            return None
        found = self.connection.lookup_secret(uuid=self.secret.UUIDString())
        return secret_facts(found) if found is not None else None

    # -- plan
    def plan(self, current, desired):
        if desired["state"] == "absent":
            return self._plan_absent(current)
        if current is None:
            return self._plan_new(desired["spec"])
        have = current["spec"]
        want = dict(have, **desired["spec"])
        label = describe(have)
        changed = [field for field in ("usage_type", "usage_id") + _MUTABLE_FIELDS
                   if _differs(want.get(field), have.get(field))]
        reason = None
        if want.get("usage_id") != have.get("usage_id") or want.get("usage_type") != have.get("usage_type"):
            reason, param = "libvirt cannot change the usage of a secret", "usage_id"
        elif have["private"] and not want["private"]:
            reason, param = "libvirt cannot make a private secret non-private", "private"
        if reason:
            value = self._recreation_value(have, current, param, reason)
            if value is not None:
                self._value_action = True
            return [Action("re-create secret %s with uuid %s (%s changed: %s)" % (
                describe(want), have["uuid"], ", ".join(changed), reason), lambda: self._recreate(want, value, current))]
        actions = []
        if changed:
            actions.append(Action("redefine secret %s (%s)" % (label, ", ".join(changed)),
                                  lambda: self._define(want, known_value=current["value"])))
        if self.value is not None and self._value_differs(have, current):
            self._value_action = True
            actions.append(Action("set the value of secret %s" % label, self._set_value))
            self._warn_no_rekey(have)
        return actions

    def _recreation_value(self, have, current, param, reason):
        """The value a re-created secret gets; refuse what would lose the current value or break references.

        The value is the declared one or, when none, the current one of a
        non-private secret. A private secret's value cannot be read back: the
        declared one is taken only when the fingerprint shows it is the current
        one, or with update_value: always (the user says it is the value now).
        References by the old usage break when the usage changes: allow_in_use.
        """
        label = describe(have)
        value = self.value if self.value is not None else current["value"]
        if have["private"]:
            if self.value is None:
                raise ParameterError(param, "secret %s must be re-created (%s) and the value of a private secret "
                                     "cannot be read back: give value or value_b64 to re-create it with; nothing "
                                     "was changed" % (label, reason))
            if self.params.get("update_value") != "always" and \
                    self.records.matches(self.connection.uri, have["uuid"], self.value) is not True:
                raise ParameterError(param, "secret %s must be re-created (%s), and nothing shows that the declared "
                                     "value is its current one (update_value: on_create): set update_value: always "
                                     "to re-create it with the declared value; nothing was changed" % (label, reason))
            self._warn_no_rekey(have)
        elif value != current["value"]:
            self._warn_no_rekey(have)
        if "usage_id" in self.declared and self.declared["usage_id"] != have.get("usage_id"):
            used = _used_by(self._references_to(dict(have, uuid=None)))  # by usage only
            if used and not self.params.get("allow_in_use"):
                raise UnsafeActionError("secret %s is named by its usage in %s: a new usage id leaves them without "
                                        "their secret. Change those references first, or set allow_in_use: true" % (
                                            label, used), param="allow_in_use")
            if used:
                self.warnings.append("secret %s changes its usage id while %s name it by the old one" % (label, used))
        return value

    def _references_to(self, spec):
        """What names the secret ``spec``; the host is read once per run (its volumes only for a volume secret)."""
        if self._scan is None:
            self._scan = ReferenceScan(self.connection, volumes=spec.get("usage_type") in (None, "volume"))
        return self._scan.references_to(spec)

    def _warn_no_rekey(self, spec):
        """A new passphrase does not re-encrypt the LUKS volumes made with the old one: say which no longer open."""
        if spec.get("usage_type") != "volume":
            return
        volumes = self._references_to(spec)["volumes"]
        if volumes:
            self.warnings.append(
                "the new value of secret %s is not the passphrase volume(s) %s were encrypted with (libvirt does not "
                "re-encrypt them): they no longer open with it" % (describe(spec), ", ".join(volumes)))

    def _plan_new(self, spec):
        if not spec.get("usage_type"):
            raise ParameterError("usage_type", "required to define secret %s, which does not exist (with usage_id)"
                                 % spec["uuid"])
        spec = dict(spec, ephemeral=bool(spec.get("ephemeral")), private=spec.get("private", True))
        actions = [Action("define secret %s" % describe(spec), lambda: self._define(spec))]
        if self.value is None:
            self.warnings.append("secret %s is defined without a value: the pools, volumes and guests using it fail "
                                 "until one is set (value or value_b64)" % describe(spec))
        else:
            self._value_action = True
            actions.append(Action("set the value of secret %s" % describe(spec), self._set_value))
        return actions

    def _value_differs(self, have, current):
        """Whether the declared value must be set on an existing secret (the value policy)."""
        if not have["private"]:
            return current["value"] != self.value
        matches = self.records.matches(self.connection.uri, have["uuid"], self.value)
        if self.params.get("update_value") == "always":
            return matches is not True
        if matches is False:
            self.warnings.append(
                "the value declared for private secret %s is not the one this collection last set; it is left as it "
                "is (update_value: on_create): set update_value: always to set it" % describe(have))
        return False

    def _plan_absent(self, current):
        if current is None:
            return []
        spec = current["spec"]
        used = _used_by(self._references_to(spec))
        if used and not self.params.get("allow_in_use"):
            raise UnsafeActionError("secret %s is referenced by %s: without it they cannot start or open their "
                                    "storage. Remove those references first, or set allow_in_use: true" % (
                                        describe(spec), used), param="allow_in_use")
        if used:
            self.warnings.append("secret %s is removed while referenced by %s" % (describe(spec), used))
        return [Action("undefine secret %s" % describe(spec), self._undefine)]

    def diff_view(self, current, desired):
        before = dict(current["spec"], state="present") if current else {"state": "absent"}
        if desired["state"] == "absent":
            return before, {"state": "absent"}
        after = dict(before, state="present")
        after.update((field, value) for field, value in desired["spec"].items()
                     if _differs(value, before.get(field)))
        if current is None:
            after.setdefault("private", True)
            after.setdefault("ephemeral", False)
        if self._value_action:  # that it changes, never what
            if current is not None:
                before["value"] = "(not shown)"
            after["value"] = "(not shown, changed)"
        return before, after

    # -- apply (side effects only)
    def _define(self, spec, known_value=None):
        self.secret = call("defining secret %s" % describe(spec), self.connection.conn.secretDefineXML,
                           build_secret_xml(spec), 0)
        if spec["private"] and known_value is not None:
            # the value stays and can no longer be read back: remember it, so that a later run can compare
            self.records.remember(self.connection.uri, self.secret.UUIDString(), known_value)

    def _set_value(self, value=None):
        value = self.value if value is None else value
        call("setting the value of secret %s" % self.secret.UUIDString(), self.secret.setValue, value, 0)
        self.records.remember(self.connection.uri, self.secret.UUIDString(), value)

    def _recreate(self, spec, value, current):
        """Undefine and define again with the same uuid, then set the value; put the old one back on failure."""
        self._undefine()
        try:
            self._define(spec)
            if value is not None:
                self._set_value(value)
        except LibvirtCallError as exc:
            exc.msg += self._restore(current)
            raise

    def _restore(self, current):
        """Define the secret as it was before a failed re-creation; return what to add to the error."""
        try:
            if self.connection.lookup_secret(uuid=current["spec"]["uuid"]) is not None:
                self._undefine()  # the new definition: libvirt refuses another usage on the same uuid
            self._define(current["spec"])
        except LibvirtCallError as error:
            return " (restoring the previous definition failed too: %s)" % error.msg
        if current["value"] is None:
            return " (the previous definition was restored, without its value, which libvirt never returns: " \
                   "set it again)"
        try:
            self._set_value(current["value"])
        except LibvirtCallError as error:
            return " (the previous definition was restored, but not its value: %s)" % error.msg
        return " (the previous definition and value were restored)"

    def _undefine(self):
        uuid = self.secret.UUIDString()
        call("undefining secret %s" % uuid, self.secret.undefine)
        self.records.forget(self.connection.uri, uuid)


def _differs(want, have):
    """The one comparison of a secret field for plan and diff: an empty description is no description."""
    return (want or None) != (have or None)


def secret_identity(params):
    """(canonical uuid or None, (usage type, usage id) or None) from the module parameters, checked."""
    uuid = canonical_uuid(params["uuid"], "uuid") if params.get("uuid") else None
    usage = None
    if params.get("usage_type") and params["usage_type"] not in USAGE_TYPES:
        raise ParameterError("usage_type", "unknown usage type %s (one of %s)" % (
            params["usage_type"], ", ".join(sorted(USAGE_TYPES))))
    if params.get("usage_id") is not None and not params.get("usage_type"):
        raise ParameterError("usage_type", "required with usage_id")
    if params.get("usage_type"):
        _check_usage_id(params["usage_type"], params.get("usage_id"))
        usage = (params["usage_type"], params["usage_id"])
    return uuid, usage


def _used_by(references):
    """'pools a, b; guests g vda' from a references dict; '' when nothing refers."""
    return "; ".join("%s %s" % (kind, ", ".join(names)) for kind, names in sorted(references.items()) if names)


def _check_usage_id(usage_type, usage_id):
    """The usage id libvirt's schema accepts for ``usage_type``."""
    if usage_id is None or not usage_id.strip():
        raise ParameterError("usage_id", "required with usage_type %s: %s" % (usage_type, USAGE_TYPES[usage_type][1]))
    check_text(usage_id, "usage_id")
    if usage_type == "volume" and (not usage_id.startswith("/") or len(usage_id) < 2):
        raise ParameterError("usage_id", "a volume secret's usage id is the absolute path of the volume, not '%s'"
                             % usage_id)
    if usage_type != "volume" and "/" in usage_id:
        raise ParameterError("usage_id", "'%s' cannot contain '/' (libvirt's schema for %s usage ids)" % (
            usage_id, usage_type))


# ---------------------------------------------------------------- info

class SecretInfoReader:
    """Reads secrets for storage_secret_info: all of them or one. Never changes anything, never reads a value."""

    def __init__(self, module, connection):
        self.params = module.params
        self.connection = connection

    def run(self):
        """Return the module result: ``secrets`` (facts with referenced_by) and, for one secret, ``exists``."""
        uuid, usage = secret_identity(self.params)
        one = bool(uuid or usage)
        if one:
            found = self.connection.lookup_secret(uuid=uuid, usage=usage)
            secrets = [found] if found is not None else []
        else:
            secrets = call("listing secrets", self.connection.conn.listAllSecrets, 0)
        facts = [secret_facts(secret) for secret in secrets]
        if uuid and usage:  # the uuid may exist with another usage: no secret has both
            facts = [item for item in facts if (item["usage_type"], item["usage_id"]) == usage]
        if facts:
            scan = ReferenceScan(self.connection, volumes=any(f["usage_type"] in (None, "volume") for f in facts))
            for item in facts:
                item["referenced_by"] = scan.references_to(item)
        facts.sort(key=lambda f: (f["usage_type"] or "", f["usage_id"] or "", f["uuid"]))
        result = {"changed": False, "secrets": facts}
        if one:
            result["exists"] = bool(facts)
        return result


# The options of storage_secret (besides uri) and their constraints, composed by storage_secret and storage_host.
SECRET_ARGUMENT_SPEC = dict(
    uuid=dict(type="str"),
    usage_type=dict(type="str", choices=sorted(USAGE_TYPES)),
    usage_id=dict(type="str"),
    description=dict(type="str"),
    ephemeral=dict(type="bool"),
    private=dict(type="bool"),
    value=dict(type="str", no_log=True),
    value_b64=dict(type="str", no_log=True),
    update_value=dict(type="str", choices=["on_create", "always"], default="on_create"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    allow_in_use=dict(type="bool", default=False),
)
SECRET_CONSTRAINTS = dict(
    mutually_exclusive=[("value", "value_b64")],
    required_one_of=[("uuid", "usage_type")],
    required_together=[("usage_type", "usage_id")],
)
