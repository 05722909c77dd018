"""What a file that is not the expected checkpoint file actually is, for error messages.

Strategy
--------
A user who passes the wrong file (a Keras ``.weights.h5``, a zip or tarball
of a checkpoint, a Git LFS pointer left by a clone without ``git lfs pull``,
the ``.meta`` graph instead of the prefix) should hear what the file is and
what to pass instead, not only "not an SSTable".  :func:`hint` looks at the
first bytes (and the name) and returns that sentence, or ``""`` when the file
is nothing it recognises.  Readers call it only once they already have an
error to report, so a valid checkpoint never pays for it.

Signatures recognised (first bytes of the file)::

    HDF5           89 48 44 46 0d 0a 1a 0a       "\\x89HDF\\r\\n\\x1a\\n"
    .keras         a zip whose first member is metadata.json, config.json or model.weights.h5
    zip            50 4b 03 04 (or 05 06 empty)  "PK\\x03\\x04"
    gzip           1f 8b
    tar (POSIX)    "ustar" at offset 257
    Git LFS        "version https://git-lfs.github.com/spec/v1"
    .meta          by name: a MetaGraphDef, whose checkpoint is the name minus ".meta"

Other helpers may add entries to :data:`SIGNATURES` (e.g. Keras formats).
"""

from __future__ import annotations

from typing import Callable, Optional

__all__ = ["hint", "identify", "SIGNATURES", "HEAD_SIZE"]

#: How many leading bytes :func:`identify` needs.
HEAD_SIZE = 512

#: The members a Keras 3 ``.keras`` archive holds (metadata.json first, as Keras 3.15.1 writes it).
_KERAS_MEMBERS = (b"metadata.json", b"config.json", b"model.weights.h5")


def _first_zip_member(head: bytes) -> bytes:
    """The name in a zip's first local file header (u16 name length at offset 26, name at 30)."""
    if head[:4] != b"PK\x03\x04" or len(head) < 30:
        return b""
    n = int.from_bytes(head[26:28], "little")
    return head[30 : 30 + n]


#: (name, test on the head bytes, advice) -- tried in order.
SIGNATURES: list[tuple[str, Callable[[bytes], bool], str]] = [
    ("a Git LFS pointer file", lambda h: h.startswith(b"version https://git-lfs"),
     "fetch the real content (git lfs pull) and try again"),
    ("an HDF5 file (e.g. a Keras .h5/.weights.h5)", lambda h: h.startswith(b"\x89HDF\r\n\x1a\n"),
     "this is not a TensorFlow checkpoint; read a Keras 3 weights file with tfckpt.load_keras_weights(path) (h5py, "
     "pip install 'tfckpt[keras]'), or convert it: tfckpt convert FILE PREFIX --keras-layers LAYERS.json"),
    ("a Keras 3 .keras archive", lambda h: _first_zip_member(h) in _KERAS_MEMBERS,
     "read its weights with tfckpt.load_keras_weights(path) (pip install 'tfckpt[keras]'), or convert them: "
     "tfckpt convert FILE.keras PREFIX --keras-layers LAYERS.json"),
    ("a zip archive (e.g. a .keras file or a zipped checkpoint)", lambda h: h[:4] in (b"PK\x03\x04", b"PK\x05\x06"),
     "unzip it and pass the checkpoint prefix inside (the name before .index)"),
    ("a gzip file", lambda h: h.startswith(b"\x1f\x8b"),
     "decompress it (e.g. tar xzf / gunzip) and pass the checkpoint prefix inside"),
    ("a tar archive", lambda h: h[257:262] == b"ustar",
     "extract it (tar xf) and pass the checkpoint prefix inside"),
]


def identify(head: bytes, name: str = "") -> Optional[tuple[str, str]]:
    """``(what the file is, what to do)`` for a file starting with ``head``, or None."""
    for what, test, advice in SIGNATURES:
        if test(head):
            return what, advice
    if name.endswith(".meta"):
        prefix = name[: -len(".meta")]
        return "a .meta file (the MetaGraphDef)", f"pass the checkpoint prefix {prefix!r} instead"
    return None


def hint(read_head: Callable[[int], bytes], name: str = "") -> str:
    """``"; the file looks like X: do Y"`` to append to a message, or ``""``.

    ``read_head(n)`` returns up to ``n`` first bytes of the file; any OSError means no hint.
    """
    try:
        head = read_head(HEAD_SIZE)
    except OSError:
        head = b""
    found = identify(head, str(name))
    return f"; the file looks like {found[0]}: {found[1]}" if found else ""


def hint_for_path(path) -> str:
    """:func:`hint` for a local file."""

    def read_head(n: int) -> bytes:
        with open(path, "rb") as f:
            return f.read(n)

    return hint(read_head, str(path))
