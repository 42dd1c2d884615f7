"""converge.overlay / project / differences: the three dict operations the convergers plan with."""

import copy

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.converge import (
    Action, Converger, differences, overlay, project)

CURRENT = {
    "name": "p", "type": "netfs", "uuid": "u",
    "source": {"hosts": [{"name": "nfs1", "port": 2049}], "dir": "/export", "format": "nfs"},
    "target": {"path": "/mnt/p", "permissions": {"mode": "0755", "owner": 0, "group": 0}},
    "mount_options": ["soft"],
}


@pytest.mark.parametrize("base, top, expected", [
    ({}, {}, {}),
    (None, None, {}),
    (None, {"a": 1}, {"a": 1}),
    ({"a": 1}, None, {"a": 1}),
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, {"a": {"x": 1, "y": 3}}),
    ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": 5, "e": 6}}}, {"a": {"b": {"c": 1, "d": 5, "e": 6}}}),
    ({"a": [1, 2, 3]}, {"a": [4]}, {"a": [4]}),                       # lists are replaced, never merged
    ({"a": [{"x": 1}]}, {"a": [{"y": 2}]}, {"a": [{"y": 2}]}),
    ({"a": {"x": 1}}, {"a": 5}, {"a": 5}),                            # a scalar replaces a dict
    ({"a": 5}, {"a": {"x": 1}}, {"a": {"x": 1}}),                     # and a dict a scalar
    ({"a": 1}, {"a": None}, {"a": None}),                             # None is a value like any other
    ({"a": {"x": 1}}, {"a": {}}, {"a": {"x": 1}}),
    ({"a": True}, {"a": False}, {"a": False}),
    (CURRENT, {"source": {"hosts": [{"name": "nfs2"}]}, "target": {"permissions": {"mode": "0700"}}},
     dict(CURRENT, source=dict(CURRENT["source"], hosts=[{"name": "nfs2"}]),
          target={"path": "/mnt/p", "permissions": {"mode": "0700", "owner": 0, "group": 0}})),
])
def test_overlay(base, top, expected):
    base_before, top_before = copy.deepcopy(base), copy.deepcopy(top)
    result = overlay(base, top)
    assert result == expected
    assert base == base_before and top == top_before  # inputs are never changed


def test_overlay_copies_deeply():
    base, top = {"a": {"x": [1]}}, {"b": {"y": [2]}}
    result = overlay(base, top)
    result["a"]["x"].append(9)
    result["b"]["y"].append(9)
    assert base == {"a": {"x": [1]}} and top == {"b": {"y": [2]}}


@pytest.mark.parametrize("current, declared, expected", [
    ({}, {}, {}),
    (None, None, {}),
    (None, {"a": 1}, {"a": None}),
    ({"a": 1, "b": 2}, {"a": 9}, {"a": 1}),
    ({"a": 1}, {"b": 9}, {"b": None}),
    ({"a": {"x": 1, "y": 2}, "b": 3}, {"a": {"y": 0}}, {"a": {"y": 2}}),
    ({"a": {"x": 1}}, {"a": {"z": 0}}, {"a": {"z": None}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [1, 2]}),
    ({"a": 5}, {"a": {"x": 1}}, {"a": 5}),                             # current scalar: taken whole
    ({"a": {"x": 1}}, {"a": 5}, {"a": {"x": 1}}),
    ({"a": {"x": {"deep": 1, "other": 2}}}, {"a": {"x": {"deep": 0}}}, {"a": {"x": {"deep": 1}}}),
    (CURRENT, {"source": {"dir": "/new"}, "target": {"permissions": {"mode": "0700"}}},
     {"source": {"dir": "/export"}, "target": {"permissions": {"mode": "0755"}}}),
])
def test_project(current, declared, expected):
    current_before = copy.deepcopy(current)
    result = project(current, declared)
    assert result == expected
    assert current == current_before


def test_project_copies():
    current = {"a": [1]}
    project(current, {"a": []})["a"].append(2)
    assert current == {"a": [1]}


@pytest.mark.parametrize("current, declared, expected", [
    ({}, {}, []),
    (None, None, []),
    (CURRENT, {}, []),
    (CURRENT, {"name": "p"}, []),
    (CURRENT, copy.deepcopy(CURRENT), []),
    (CURRENT, {"name": "q"}, ["name"]),
    (None, {"name": "p", "type": "dir"}, ["name", "type"]),
    ({"a": 1}, {"b": 1}, ["b"]),
    ({"a": 1}, {"a": None}, ["a"]),                                  # declared None: "unset"
    ({}, {"a": None}, []),                                           # equals a missing value
    ({"a": None}, {"a": 0}, ["a"]),
    ({"a": 0}, {"a": False}, []),                                    # Python equality: 0 == False
    ({"a": "1"}, {"a": 1}, ["a"]),                                   # no type coercion
    (CURRENT, {"source": {"hosts": [{"name": "nfs1", "port": 2049}]}}, []),
    (CURRENT, {"source": {"hosts": [{"name": "nfs1"}]}}, ["source.hosts"]),   # lists compare whole
    (CURRENT, {"source": {"hosts": [{"name": "nfs2", "port": 2049}], "dir": "/export"}}, ["source.hosts"]),
    (CURRENT, {"target": {"permissions": {"mode": "0700", "owner": 0}}}, ["target.permissions.mode"]),
    (CURRENT, {"target": {"permissions": {"mode": "0700", "owner": 1}, "path": "/x"}},
     ["target.path", "target.permissions.mode", "target.permissions.owner"]),   # sorted, dotted
    (CURRENT, {"mount_options": ["soft", "ro"]}, ["mount_options"]),
    (CURRENT, {"mount_options": ["soft"]}, []),
    (CURRENT, {"cow": False}, ["cow"]),
    ({"a": {"x": 1}}, {"a": 5}, ["a"]),
    ({"a": 5}, {"a": {"x": 1}}, ["a"]),
    ({"a": {}}, {"a": {"x": 1}}, ["a.x"]),
    ({}, {"a": {"x": 1}}, ["a"]),
    ({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": 2}}}, ["a.b.c"]),
])
def test_differences(current, declared, expected):
    assert differences(current, declared) == expected


def test_differences_prefix():
    assert differences({"x": 1}, {"x": 2}, prefix="pool.") == ["pool.x"]


def test_differences_only_looks_at_declared_keys():
    """What libvirt fills in (uuid, defaults) and the user did not declare is never a difference."""
    assert differences(dict(CURRENT, extra={"z": 1}), {"source": {"dir": "/export"}}) == []


def test_differences_of_overlay_is_empty():
    """After applying the declared fields, nothing declared differs any more."""
    declared = {"source": {"dir": "/new", "hosts": [{"name": "h"}]}, "target": {"permissions": {"mode": "0700"}}}
    assert differences(CURRENT, declared) == ["source.dir", "source.hosts", "target.permissions.mode"]
    assert differences(overlay(CURRENT, declared), declared) == []
    assert project(overlay(CURRENT, declared), declared) == declared


def test_action():
    done = []
    action = Action("define pool p", lambda: done.append(1))
    assert action.description == "define pool p"
    assert repr(action) == "Action('define pool p')"
    action.apply()
    assert done == [1]


@pytest.mark.parametrize("done, left, expected", [
    ([], [], ""),
    (["define pool p"], [], "; done before the failure: define pool p"),
    ([], [Action("start pool p", None)], "; not done: start pool p"),
    (["a", "b"], [Action("c", None), Action("d", None)], "; done before the failure: a, b; not done: c, d"),
])
def test_progress(done, left, expected):
    assert Converger._progress(done, left) == expected
