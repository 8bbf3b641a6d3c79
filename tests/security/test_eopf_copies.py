"""The configuration folder's copy stops at a size, whatever the folder holds (issue 14)."""

from __future__ import annotations

import pytest

from dpr.adapters.processors.eopf_storage import copy_tree, fetch_folder
from dpr.domain.errors import ProcessorError


def test_a_copy_stops_once_the_folder_holds_more_than_the_limit(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    dest.mkdir()
    for i in range(5):
        (src / f"part-{i}.bin").write_bytes(b"x" * 1000)
    with pytest.raises(ProcessorError, match="holds more than 3000 bytes"):
        fetch_folder(str(src), dest, {}, max_bytes=3000)
    assert sum(f.stat().st_size for f in dest.iterdir()) <= 3000


def test_a_linked_folder_inside_the_root_is_not_followed(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    (src / "loop").symlink_to(src)
    dest.mkdir()
    assert copy_tree(src, dest) == ["loop"]
    assert (dest / "sub" / "a.txt").read_text() == "a" and not (dest / "loop").exists()
