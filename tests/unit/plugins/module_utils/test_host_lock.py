"""host_lock: tasks on one object take turns; the lock directory must be the user's own."""

import os
import threading
import time

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import host_lock
from ansible_collections.virtops.storage.plugins.module_utils.errors import VirtopsError


@pytest.fixture
def lock_dirs(tmp_path, monkeypatch):
    first, second = str(tmp_path / "locks"), str(tmp_path / "fallback")
    monkeypatch.setattr(host_lock, "LOCK_DIRS", (first, second))
    return first, second


def test_second_task_on_an_object_waits_for_the_first(lock_dirs):  # pylint: disable=unused-argument
    events = []

    def task(label, hold):
        with host_lock.host_locks("qemu:///system", ["volume/images/a.img"]):
            events.append(label + " in")
            time.sleep(hold)
            events.append(label + " out")

    first = threading.Thread(target=task, args=("first", 0.3))
    first.start()
    time.sleep(0.1)
    task("second", 0)
    first.join()
    assert events == ["first in", "first out", "second in", "second out"]


def test_other_objects_do_not_wait(lock_dirs):  # pylint: disable=unused-argument
    with host_lock.host_locks("qemu:///system", ["volume/images/a.img"]):
        started = time.monotonic()
        with host_lock.host_locks("qemu:///system", ["volume/images/b.img", "pool/images"]):
            pass
        assert time.monotonic() - started < 1


def test_lock_directory_is_private(lock_dirs):
    with host_lock.host_locks("qemu:///system", ["pool/images"]):
        pass
    assert oct(os.stat(lock_dirs[0]).st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("plant", ["symlink", "shared"])
def test_a_directory_someone_else_planted_is_not_used(lock_dirs, tmp_path, plant):
    first, second = lock_dirs
    if plant == "symlink":
        os.mkdir(str(tmp_path / "elsewhere"))
        os.symlink(str(tmp_path / "elsewhere"), first)
    else:
        os.mkdir(first)
        os.chmod(first, 0o777)
    with host_lock.host_locks("qemu:///system", ["pool/images"]):
        pass
    assert os.listdir(second)  # the fallback took the lock file
    assert not os.listdir(str(tmp_path / "elsewhere")) if plant == "symlink" else not os.listdir(first)


def test_no_usable_directory_is_a_clear_error(lock_dirs):
    for directory in lock_dirs:
        with open(directory, "w") as handle:
            handle.write("not a directory")
    with pytest.raises(VirtopsError) as info:
        with host_lock.host_locks("qemu:///system", ["pool/images"]):
            pass
    assert "cannot take the host lock of pool/images" in info.value.msg


def test_tasks_inside_an_object_run_side_by_side_and_a_task_on_it_waits(lock_dirs):  # pylint: disable=unused-argument
    """Volume tasks hold their pool shared: two run at once; a pool task waits for both, and they for it."""
    events = []

    def volume_task(label, hold):
        with host_lock.host_locks("qemu:///system", ["volume/images/%s" % label], shared=["pool/images"]):
            events.append(label + " in")
            time.sleep(hold)
            events.append(label + " out")

    volumes = [threading.Thread(target=volume_task, args=(label, 0.3)) for label in ("a.img", "b.img")]
    for thread in volumes:
        thread.start()
    time.sleep(0.1)
    with host_lock.host_locks("qemu:///system", ["pool/images"]):
        events.append("pool in")
    for thread in volumes:
        thread.join()
    assert events.index("pool in") > max(events.index("a.img out"), events.index("b.img out"))
    assert max(events.index("a.img in"), events.index("b.img in")) < min(events.index("a.img out"),
                                                                         events.index("b.img out"))
