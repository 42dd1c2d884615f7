"""params: the raw-argument checks AnsibleModule's conversion would hide, and the control-character check."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.params import check_arguments, check_text

SPEC = dict(
    name=dict(type="str"),
    pool=dict(type="str", required=True),
    value=dict(type="str", no_log=True),
    count=dict(type="int"),
    mode=dict(type="raw"),
    options=dict(type="list", elements="str"),
    config=dict(type="dict"),
    target=dict(type="dict", options=dict(path=dict(type="path"), permissions=dict(type="dict", options=dict(
        label=dict(type="str"))))),
    hosts=dict(type="list", elements="dict", options=dict(name=dict(type="str", required=True),
                                                          port=dict(type="int"))),
    untyped=dict(),
)


@pytest.mark.parametrize("raw", [
    {},
    {"name": "a", "pool": "p", "value": "s3cret", "count": "5", "mode": ["raw", "passes"], "options": ["a", "b"]},
    {"name": 5, "pool": "p"},  # a number becomes its text, as usual in Ansible
    {"name": None, "pool": None, "target": None, "hosts": None},
    {"config": {"nested": {"any": ["thing"]}}},  # a dict without suboptions holds anything
    {"target": {"path": "/p", "permissions": {"label": "x"}}},
    {"hosts": [{"name": "h", "port": 1}, {"name": "g"}]},
    {"hosts": "h1,h2"},  # AnsibleModule's own conversion (or refusal) applies
    {"options": "a,b"},
    {"_ansible_check_mode": True, "unknown": [1]},  # not in the spec: AnsibleModule refused it already
])
def test_accepted(raw):
    check_arguments(SPEC, raw)


@pytest.mark.parametrize("raw, param, fragment", [
    ({"name": ["a", "b"]}, "name", "expects a string, not a list"),
    ({"name": {"a": "b"}}, "name", "expects a string, not a dict"),
    ({"untyped": [1]}, "untyped", "not a list"),  # no type is type str
    ({"options": ["a", ["b"]]}, "options", "not a list"),
    ({"options": [{"a": 1}]}, "options", "not a dict"),
    ({"target": {"path": ["/p"]}}, "target.path", "not a list"),
    ({"target": {"permissions": {"label": {"a": 1}}}}, "target.permissions.label", "not a dict"),
    ({"hosts": [{"name": "a"}, {"name": ["b"]}]}, "hosts.name", "not a list"),
    ({"pool": ""}, "pool", "cannot be empty"),
    ({"pool": " \t"}, "pool", "cannot be empty"),
    ({"hosts": [{"name": ""}]}, "hosts.name", "cannot be empty"),
])
def test_refused(raw, param, fragment):
    with pytest.raises(ParameterError) as caught:
        check_arguments(SPEC, raw)
    assert caught.value.param == param
    assert caught.value.msg == "%s: %s" % (param, caught.value.msg.split(": ", 1)[1])
    assert fragment in caught.value.msg


@pytest.mark.parametrize("value", [["s3cret-list"], {"s3cret-key": "s3cret-item"}])
def test_a_no_log_value_is_never_shown(value):
    with pytest.raises(ParameterError) as caught:
        check_arguments(SPEC, {"value": value})
    assert caught.value.param == "value"
    assert "s3cret" not in caught.value.msg and "s3cret" not in repr(caught.value.details)


@pytest.mark.parametrize("text, one_line", [("plain name", True), ("tab\tand\nlines", False), ("", True),
                                            ("unicode \u00e9\u4e2d", True)])
def test_check_text_accepts(text, one_line):
    check_text(text, "p", one_line=one_line)


@pytest.mark.parametrize("text, one_line, found", [
    ("a\nb", True, "U+000A"), ("a\tb", True, "U+0009"), ("a\x00", False, "U+0000"), ("a\x7f", False, "U+007F"),
    ("\x1b[31m\r", True, "U+000D, U+001B"),
])
def test_check_text_refuses(text, one_line, found):
    with pytest.raises(ParameterError) as caught:
        check_text(text, "usage_id", one_line=one_line, what="the id")
    assert caught.value.param == "usage_id"
    assert caught.value.msg.startswith("usage_id: the id must ")
    assert "(found %s)" % found in caught.value.msg


def test_the_texts_of_a_refused_no_log_value_are_hidden():
    """AnsibleModule masks the items of a no_log value, not the keys of a dict: they join no_log_values."""
    hidden = set()
    with pytest.raises(ParameterError):
        check_arguments(SPEC, {"value": {"key-s3cret": ["item-s3cret", {"deep-s3cret": 7}]}}, hidden=hidden)
    assert hidden == {"key-s3cret", "item-s3cret", "deep-s3cret", "7"}
    hidden = set()
    with pytest.raises(ParameterError):
        check_arguments(SPEC, {"name": {"key-shown": "a"}}, hidden=hidden)
    assert hidden == set()  # only no_log options
