# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of module arguments that AnsibleModule's own validation lets through.

AnsibleModule turns a list or a dict given for a ``str`` option into its
text: ``name: [a, b]`` would create a volume named ``['a', 'b']`` and a list
``value`` would become a secret's text. ``check_raw_arguments`` reads the raw
arguments again and refuses that, at any depth of suboptions, before anything
else runs. It also refuses an empty required string (``required`` only means
"present"). ``OptionNamingModule`` is the AnsibleModule the modules use, so that
its own argument errors name the option too. No libvirt here.
"""

from __future__ import annotations

from ansible.module_utils import basic
from ansible.module_utils.errors import NoLogError

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError

# option types AnsibleModule fills by converting any value to text
STRING_TYPES = ("str", "path")
# Numeric owner/group ids libvirt keeps: (uid_t)-1 (4294967295, or -1) means "not set" and is dropped.
MAX_ID = 0xFFFFFFFE


class OptionNamingModule(basic.AnsibleModule):
    """AnsibleModule whose argument errors name the option.

    Given a string for a dict option with suboptions, ansible-core fails with the
    first error of its validation, which is the one of its no_log scan:
    "dictionary requested, could not parse JSON or key=value", naming nothing.
    The type error that follows names the option ("argument 'permissions' is of
    type str ..."): that one is reported instead.
    """

    def fail_json(self, msg, **kwargs):
        """AnsibleModule.fail_json, with a nameless no_log-scan error replaced by the next error of validation."""
        result = getattr(self, "validation_result", None)  # set once the arguments are validated
        errors = result.errors.errors if result is not None else []
        if errors and isinstance(errors[0], NoLogError) and msg == result.errors.msg:
            named = [error for error in errors if not isinstance(error, NoLogError)]
            if named:
                msg = named[0].msg
        super().fail_json(msg, **kwargs)


def check_raw_arguments(module):
    """Raise ParameterError when the raw arguments of ``module`` hold what its spec's conversion would hide."""
    # module.params are converted already; _load_params() decodes the cached raw arguments again
    check_arguments(module.argument_spec, basic._load_params(), hidden=module.no_log_values)


def check_arguments(argument_spec, raw, prefix="", hidden=None):
    """Raise ParameterError (naming the dotted option) for a list or dict given for a string option, or
    an empty required string, in ``raw`` against ``argument_spec``.

    Values are never shown. The texts inside a refused list or dict of a no_log option go into ``hidden``
    (the module's no_log_values): AnsibleModule masks the items of such a value in the returned
    invocation, but not the keys of a dict.
    """
    for name, option in argument_spec.items():
        if name in raw and raw[name] is not None:
            _check_option(option, raw[name], prefix + name, hidden)


def _check_option(option, value, param, hidden):
    kind = option.get("type", "str")
    if kind in STRING_TYPES:
        if option.get("no_log") and hidden is not None and isinstance(value, (list, dict)):
            hidden.update(_texts(value))
        _check_string(value, param, option.get("required", False))
    elif kind == "dict" and option.get("options") and isinstance(value, dict):
        check_arguments(option["options"], value, param + ".", hidden)
    elif kind == "list" and isinstance(value, list):
        for item in value:
            if option.get("elements") in STRING_TYPES:
                _check_string(item, param, False)
            elif option.get("elements") == "dict" and option.get("options") and isinstance(item, dict):
                check_arguments(option["options"], item, param + ".", hidden)


def _texts(value):
    """The texts in a list or dict, keys included, at any depth."""
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in _texts(key) + _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return [str(value)] if value not in (None, "") else []


def _check_string(value, param, required):
    if isinstance(value, (list, dict)):
        raise ParameterError(param, "expects a string, not a %s" % ("list" if isinstance(value, list) else "dict"))
    if required and isinstance(value, str) and not value.strip():
        raise ParameterError(param, "cannot be empty")


def check_text(text, param, one_line=True, what=None):
    """Refuse control characters (XML holds none; a name or an id not even a tab or a line break).

    ``what`` names the text in the message ('the pool name'); the characters are shown as code points only.
    """
    allowed = "" if one_line else "\t\n"
    bad = sorted(set(c for c in text if (ord(c) < 32 or ord(c) == 127) and c not in allowed))
    if bad:
        rule = "must be one line without control characters" if one_line else "must not contain control characters"
        raise ParameterError(param, "%s%s (found %s)" % (what + " " if what else "", rule,
                                                         ", ".join("U+%04X" % ord(c) for c in bad)))


def canonical_uuid(value, param):
    """Return a UUID as libvirt prints it (lower-case, dashed); ParameterError when it is none."""
    digits = str(value).strip().replace("-", "")
    if len(digits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ParameterError(param, "'%s' is not a UUID" % value)
    digits = digits.lower()
    return "-".join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))
