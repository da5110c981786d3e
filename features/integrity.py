"""Content hashes of files and folders, so that a model or a table changed after it was recorded is detected.

Training tags each registered model version with ``artifact_sha256 = tree_sha256(<local model folder>)``; serving
recomputes it over the copy it is about to load and refuses the model when the two differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# The tag name lives in the model contract; it is re-exported here beside the hash it names.
from features.contract import ARTIFACT_SHA256_TAG

__all__ = ["ARTIFACT_SHA256_TAG", "file_sha256", "tree_sha256"]

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """sha256 of one file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(path: Path) -> str:
    """sha256 over every file under ``path``: sorted relative POSIX paths, each followed by its size and bytes.

    Nothing is ignored (hidden files included); folders count only through their files; a symbolic link is
    followed (its target's bytes are hashed). Moving, adding, removing, renaming or changing any file changes the
    hash; where the folder lives does not. A single file is hashed the same way, under its own name.
    """
    root = Path(path)
    if root.is_file():
        files = [(root.name, root)]
    elif root.is_dir():
        files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    else:
        raise FileNotFoundError(f"no file or folder at {root}")
    digest = hashlib.sha256()
    for relative, file in files:
        name = relative.encode("utf-8", "surrogateescape")
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(file.stat().st_size.to_bytes(8, "big"))
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
