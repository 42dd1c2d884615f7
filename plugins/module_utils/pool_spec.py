# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""storage_pool parameters -> desired pool spec, validated against the pool-type table.

Pure functions (no libvirt): every error is a ParameterError naming the
parameter, raised before anything is changed.
"""

from __future__ import annotations

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import (
    POOL_TYPES, SOURCE_FIELDS, takes)
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    PoolXMLError, normalize_mode, normalize_pool_spec, parse_pool_xml)

# Pool-level options beyond source and target, as module parameters.
EXTRA_OPTIONS = ("mount_options", "config_options", "cow", "refresh_volume_allocation")


def _clean(value):
    """Drop None, empty dicts and empty lists, recursively."""
    if isinstance(value, dict):
        cleaned = dict((k, _clean(v)) for k, v in value.items())
        return dict((k, v) for k, v in cleaned.items() if v is not None and v != {} and v != [])
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def spec_from_params(params):
    """Return the desired pool spec holding only what the user declared.

    ``params`` are storage_pool's validated parameters. With ``xml`` the spec
    comes from the XML; otherwise from name/type/source/target and the extras.
    """
    if params.get("xml"):
        return _spec_from_xml(params)
    spec = {"name": params["name"], "type": params.get("type")}
    source = _clean(params.get("source") or {})
    auth = source.get("auth")
    if auth and "secret" in auth:
        secret = auth.pop("secret")
        auth.update(dict(("secret_" + k, v) for k, v in secret.items()))
    if source:
        spec["source"] = source
    target = _clean(params.get("target") or {})
    if target:
        spec["target"] = target
    for option in EXTRA_OPTIONS:
        if params.get(option) not in (None, [], {}):
            spec[option] = params[option]
    spec = _clean(spec)
    _normalise_mode(spec)
    return normalize_pool_spec(spec)


def _normalise_mode(spec):
    perms = spec.get("target", {}).get("permissions", {})
    if "mode" in perms:
        try:
            perms["mode"] = normalize_mode(perms["mode"])
        except ValueError as exc:
            raise ParameterError("target.permissions.mode", str(exc))


def _spec_from_xml(params):
    try:
        spec = parse_pool_xml(params["xml"])
    except PoolXMLError as exc:
        raise ParameterError("xml", str(exc))
    if not spec.get("name"):
        raise ParameterError("xml", "the pool XML has no <name>")
    if params.get("name") and params["name"] != spec["name"]:
        raise ParameterError("name", "'%s' differs from the <name> '%s' in xml" % (params["name"], spec["name"]))
    if spec["type"] not in POOL_TYPES:
        raise ParameterError("xml", "unknown pool type '%s' (known: %s)" % (spec["type"], ", ".join(POOL_TYPES)))
    # The uuid of an existing pool is libvirt's; a uuid in the XML is compared like any field.
    return normalize_pool_spec(spec)


def validate_spec(spec, new, from_xml=False):
    """Check ``spec`` against the pool-type table; ``new`` when the pool will be defined.

    Fields a type does not take are refused always; required fields only
    when the pool is defined anew (an existing pool already has them).
    """
    row = POOL_TYPES[spec["type"]]
    where = "xml" if from_xml else None  # errors in raw XML name the xml parameter
    source = spec.get("source", {})
    for field in source:
        if field not in SOURCE_FIELDS:
            raise ParameterError(where or "source", "unknown source field '%s'" % field)
        if not takes(row, field):
            raise ParameterError(where or "source." + field,
                                 "pool type %s does not take it (it takes: %s)" % (
                                     row.name, ", ".join(row.required + row.optional) or "no source"))
    if new:
        for field in row.required:
            if not source.get(field):
                raise ParameterError(where or "source." + field,
                                     "pool type %s requires it" % row.name)
    _check_counts(row, source, where)
    _check_choice(row.source_formats, source.get("format"), where or "source.format",
                  "pool type %s" % row.name)
    auth = source.get("auth")
    if auth:
        _check_choice(row.auth_types, auth.get("type"), where or "source.auth.type",
                      "pool type %s" % row.name)
        if not auth.get("username"):
            raise ParameterError(where or "source.auth.username", "auth needs a username")
        if bool(auth.get("secret_uuid")) == bool(auth.get("secret_usage")):
            raise ParameterError(where or "source.auth.secret",
                                 "name the secret by exactly one of uuid or usage")
    target = spec.get("target")
    if row.target == "none" and target:
        raise ParameterError(where or "target", "pool type %s has no target (it is not a local path)" % row.name)
    if new and row.target == "required" and not (target or {}).get("path"):
        raise ParameterError(where or "target.path", "pool type %s requires it" % row.name)
    if (target or {}).get("path") and not target["path"].startswith("/"):
        raise ParameterError(where or "target.path", "'%s' is not an absolute path" % target["path"])
    for option in EXTRA_OPTIONS:
        if option in spec and not takes(row, option):
            raise ParameterError(where or option, "pool type %s does not take it" % row.name)
    for device in source.get("devices", []):
        if device.get("part_separator") is not None and not row.build_probe == "label":
            raise ParameterError(where or "source.devices.part_separator",
                                 "only disk pools take it, not pool type %s" % row.name)


def _check_counts(row, source, where):
    for field, most in (("hosts", row.max_hosts), ("devices", row.max_devices)):
        count = len(source.get(field, []))
        if count > most:
            raise ParameterError(where or "source." + field,
                                 "pool type %s takes at most %d, got %d" % (row.name, most, count))
    for host in source.get("hosts", []):
        port = host.get("port")
        if port is not None and not 0 < port < 65536:
            raise ParameterError(where or "source.hosts.port", "%s is not a TCP port (1-65535)" % port)


def _check_choice(allowed, value, param, what):
    if value is not None and value not in allowed:
        if not allowed:
            raise ParameterError(param, "%s does not take it" % what)
        raise ParameterError(param, "'%s' is not valid for %s (valid: %s)" % (value, what, ", ".join(allowed)))
