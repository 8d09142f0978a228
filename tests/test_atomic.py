"""course_utils.atomic: a write replaces the file in one rename, never in place."""

from __future__ import annotations

import os

import pytest

from course_utils import atomic


@pytest.mark.parametrize("write", [lambda p: atomic.write_bytes(p, b"new contents"),
                                   lambda p: atomic.write_text(p, "new contents"),
                                   "copy"], ids=["write_bytes", "write_text", "copy_file"])
def test_a_write_swaps_in_a_new_file_and_never_changes_the_old_one_in_place(tmp_path, write):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old contents, longer than the new")
    old_inode = path.stat().st_ino
    with open(path, "rb") as reader:  # a reader that opened the old file before the write
        if write == "copy":
            (tmp_path / "src").write_bytes(b"new contents")
            atomic.copy_file(tmp_path / "src", path)
        else:
            write(path)
        assert reader.read() == b"old contents, longer than the new"  # it still sees the whole old file
    assert path.read_bytes() == b"new contents"
    assert path.stat().st_ino != old_inode  # a new file renamed over the old name, not the old one rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"file.bin"} | ({"src"} if write == "copy" else set()))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic.atomic_path(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["file.bin"]
