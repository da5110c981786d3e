"""``features.integrity.tree_sha256``: the hash that ties a registered model version to its files."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from features.integrity import file_sha256, tree_sha256

pytestmark = pytest.mark.unit


def make_tree(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "sub" / "model.pkl").write_bytes(bytes(range(256)) * 100)
    (root / "sub" / "deeper" / ".hidden").write_bytes(b"")
    (root / "empty-dir").mkdir()
    return root


def test_same_content_same_hash_wherever_it_lives(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a")
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, b)
    os.utime(b / "MLmodel", (0, 0))  # times do not count
    assert tree_sha256(a) == tree_sha256(b)
    assert len(tree_sha256(a)) == 64 and int(tree_sha256(a), 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "MLmodel").write_text("flavors: {x: 1}\n"),  # content
        lambda r: (r / "sub" / "model.pkl").write_bytes((r / "sub" / "model.pkl").read_bytes() + b"\0"),  # one byte
        lambda r: (r / "sub" / "deeper" / ".hidden").write_bytes(b"x"),  # hidden files count
        lambda r: (r / "new.txt").write_text(""),  # an added empty file
        lambda r: (r / "MLmodel").unlink(),  # a removed file
        lambda r: (r / "MLmodel").rename(r / "MLmodel2"),  # a renamed file
        lambda r: (r / "sub" / "model.pkl").rename(r / "model.pkl"),  # a moved file
    ],
)
def test_any_change_changes_the_hash(tmp_path: Path, change: object) -> None:
    root = make_tree(tmp_path / "m")
    before = tree_sha256(root)
    change(root)  # type: ignore[operator]
    assert tree_sha256(root) != before


def test_name_and_content_boundaries_cannot_be_shifted(tmp_path: Path) -> None:
    """'ab' + 'c' and 'a' + 'bc' are different trees (lengths are part of the hash)."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    (one / "a").write_bytes(b"bc")
    (two / "ab").write_bytes(b"c")
    assert tree_sha256(one) != tree_sha256(two)


def test_single_file_and_missing_path(tmp_path: Path) -> None:
    file = tmp_path / "f.bin"
    file.write_bytes(b"hello")
    assert file_sha256(file) == hashlib.sha256(b"hello").hexdigest()
    assert len(tree_sha256(file)) == 64
    with pytest.raises(FileNotFoundError):
        tree_sha256(tmp_path / "nothing")
