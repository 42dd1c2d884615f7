# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure XML build and parse for libvirt secrets (formatsecret), and the table of usage types.

A secret spec is a plain dict holding only what the XML says (the value of a
secret is never part of its XML)::

    {'uuid': '...', 'description': 'Ceph client.admin key', 'ephemeral': False, 'private': True,
     'usage_type': 'ceph', 'usage_id': 'client.admin'}
"""

from __future__ import annotations

from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    PoolXMLError, _drop_none, etree, parse_root)

# usage type -> (the element holding its usage id, what that id is, in words)
USAGE_TYPES = {
    "volume": ("volume", "the path of the encrypted volume"),
    "ceph": ("name", "a name of your choosing (for example the Ceph client name)"),
    "iscsi": ("target", "a name of your choosing for the iSCSI target"),
    "tls": ("name", "a name of your choosing"),
    "vtpm": ("name", "a name of your choosing"),
}
# virSecretUsageType, by value
USAGE_TYPE_NAMES = {0: "none", 1: "volume", 2: "ceph", 3: "iscsi", 4: "tls", 5: "vtpm"}
USAGE_TYPE_IDS = dict((name, number) for number, name in USAGE_TYPE_NAMES.items())


class SecretXMLError(PoolXMLError):
    """The secret XML is not what libvirt writes."""


def parse_secret_xml(xml):
    """Parse secret XML (str or bytes) into a secret spec dict."""
    root = parse_root(xml, SecretXMLError)
    if root.tag != "secret":
        raise SecretXMLError("root element is <%s>, not <secret>" % root.tag)
    spec = {
        "uuid": _text(root, "uuid"),
        "description": _text(root, "description"),
        "ephemeral": root.get("ephemeral") == "yes",
        "private": root.get("private") == "yes",
    }
    usage = root.find("usage")
    if usage is not None:
        usage_type = usage.get("type")
        if usage_type not in USAGE_TYPES:
            raise SecretXMLError("unknown secret usage type %r" % usage_type)
        spec.update(usage_type=usage_type, usage_id=_text(usage, USAGE_TYPES[usage_type][0]))
    return _drop_none(spec)


def _text(element, path):
    """The text of ``path`` exactly as written (a description keeps its spaces), or None."""
    found = element.find(path)
    return found.text if found is not None and found.text else None


def build_secret_xml(spec):
    """Return the secret XML (str) for a secret spec, as libvirt writes it."""
    root = etree.Element("secret", ephemeral="yes" if spec.get("ephemeral") else "no",
                         private="yes" if spec.get("private") else "no")
    if spec.get("uuid"):
        etree.SubElement(root, "uuid").text = spec["uuid"]
    if spec.get("description"):
        etree.SubElement(root, "description").text = spec["description"]
    if spec.get("usage_type"):
        usage = etree.SubElement(root, "usage", type=spec["usage_type"])
        etree.SubElement(usage, USAGE_TYPES[spec["usage_type"]][0]).text = spec["usage_id"]
    return etree.tostring(root, pretty_print=True, encoding="unicode")
