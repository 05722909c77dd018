"""Check an HDF5 variable-length string attribute's global heap before the HDF5 library reads it.

Strategy
--------
A variable-length string attribute (what h5py writes for ``attrs["name"] = "dense"``,
and what Keras puts on every ``vars`` group) does not hold its characters: it holds a
*heap ID* pointing into a global heap collection elsewhere in the file.  Reading the
attribute makes the HDF5 library parse that whole collection, and the library bundled
with h5py (1.14.6) loops forever on a collection whose free-space object has size 0
(fuzz finding, tests/fuzz/reports/weights-h5-finding.md); other damage makes it copy
past the collection.  No h5py call returns the heap ID without dereferencing it, so this
module finds it itself, in the file's bytes, and repeats the library's parse of the
collection with every step bounded:

1. the object header of the object holding the attribute (its address from
   ``H5Oget_info``), version 1 or 2, chunk by chunk through continuation messages, each
   chunk inside the file and visited once;
2. every attribute message of that name: its data is the heap ID;
3. the collection the ID names: inside the file, each object's step forward and inside
   the collection, the walk ending exactly at its end, the named object present with
   exactly the string's length.

:func:`check_vlen_attribute` returns the string's length in bytes once that holds,
``None`` when the header holds no such message, or the object keeps attributes where
HDF5 would look first -- dense storage (an attribute-info message naming a fractal heap)
or a shared attribute message, neither of which Keras writes: the caller then does not
read it -- and raises
:class:`~tfckpt.errors.DataLossError` naming file, attribute and offset otherwise.

The layouts (HDF5 File Format Specification version 3.0, sections III.C, IV.A.1,
IV.A.2.m, IV.A.2.q; addresses are relative to the superblock's base address; ``O``
and ``L`` are the file's size of offsets and of lengths, usually 8)::

    object header v1   u8 version=1, u8 0, u16 message count, u32 refcount, u32 chunk-0 size,
                       4 bytes padding; messages: u16 type, u16 size, u8 flags, 3 bytes, data
    object header v2   "OHDR", u8 version=2, u8 flags, [4 x u32 times if flags & 0x20],
                       [u16 max compact, u16 min dense if flags & 0x10], chunk-0 size
                       (1 << (flags & 3) bytes); messages: u8 type, u16 size, u8 flags,
                       [u16 creation order if the header's flags & 0x04], data; a gap
                       shorter than a message header; u32 checksum
    continuation chunk v2   "OCHK", messages, u32 checksum
    continuation message    type 0x10: O offset, L length
    attribute info message  type 0x15: u8 version, u8 flags, [u16 max creation index if
                            flags & 1], O fractal heap address (all 1s: none), O name index, ...
    attribute message       type 0x0C: u8 version, u8 flags, u16 name size (with NUL),
                            u16 datatype size, u16 dataspace size, [u8 encoding if v3],
                            name, datatype, dataspace, data (v1: each padded to 8)
    vlen data               u32 length, O collection address, u32 object index
    global heap collection  "GCOL", u8 version=1, 3 bytes, L collection size (>= 4096);
                            objects: u16 index, u16 refcount, 4 bytes, L size, data padded
                            to 8; index 0 is free space, its size counting its header and
                            unpadded; a tail too short for an object header is free space
"""

from __future__ import annotations

from typing import Callable, Optional

from .. import errors

__all__ = ["check_vlen_attribute"]

#: Chunks of one object header followed (HDF5 itself sets no limit; Keras's have one or two).
MAX_CHUNKS = 1024
#: The library's smallest collection (H5HG_MINSIZE).
MIN_COLLECTION = 4096
ATTRIBUTE, CONTINUATION, ATTRIBUTE_INFO = 0x0C, 0x10, 0x15
SHARED_ATTRIBUTE = -ATTRIBUTE  # an attribute message flagged shared (its data is a reference)


def _uint(data: bytes, at: int, width: int) -> int:
    return int.from_bytes(data[at : at + width], "little")


def check_vlen_attribute(read: Callable[[int, int], bytes], *, size: int, base: int, sizeof_addr: int,
                         sizeof_size: int, header: int, name: bytes, file: str, key: str,
                         limit: int) -> Optional[int]:
    """The length of the variable-length string attribute ``name`` of the object at ``header``.

    ``read(offset, n)`` returns ``n`` bytes of the file at absolute ``offset`` (fewer at its
    end); ``size`` is the file's size; ``base`` the superblock's base address.  A length above
    ``limit`` is refused like damage."""

    def fail(message: str, offset: int) -> errors.DataLossError:
        return errors.DataLossError(f"attribute {name.decode('utf-8', 'replace')!r}: {message}",
                                    file=file, key=key, offset=offset)

    def get(address: int, n: int) -> bytes:
        offset = base + address
        if address < 0 or n < 0 or offset + n > size:
            raise fail(f"{n} bytes at address {address} run past the end of the file ({size} bytes)", offset)
        data = read(offset, n)
        if len(data) != n:
            raise fail(f"{n} bytes at address {address}: the file ends", offset)
        return data

    found = []
    for kind, data in _attribute_messages(get, fail, header, sizeof_addr, sizeof_size):
        if kind == SHARED_ATTRIBUTE:
            return None  # stored elsewhere (shared-message table): HDF5 may read it first; not followed
        if kind == ATTRIBUTE_INFO and _uint(data, 2 + (2 if data[1:2] and data[1] & 1 else 0), sizeof_addr) \
                not in (0, (1 << 8 * sizeof_addr) - 1):
            return None  # dense storage (a fractal heap): HDF5 looks there, not in the header
        if kind == ATTRIBUTE and _attribute_name(data) == name:
            found.append(data)
    if not found:
        return None
    length = None
    for data in found:
        length = _check_heap_id(get, fail, data, header, sizeof_addr, sizeof_size, limit)
    return length


def _attribute_messages(get, fail, header: int, sizeof_addr: int, sizeof_size: int):
    """``(kind, data)`` of every attribute and attribute-info message in the object header at ``header``."""
    first = get(header, 4)
    if first == b"OHDR":
        prefix = get(header, 6)
        flags = prefix[5]
        at = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        chunk0 = _uint(get(header + at, width), 0, width)
        chunks = [(header + at + width, chunk0)]
        version = 2
        ordered = bool(flags & 0x04)  # messages carry a creation order
    elif first[0] == 1:
        prefix = get(header, 16)
        chunks = [(header + 16, _uint(prefix, 8, 4))]
        version = 1
        ordered = False
    else:
        raise fail(f"object header version {first[0]} (neither 1 nor \"OHDR\")", header)
    seen = set()
    while chunks:
        start, length = chunks.pop(0)
        if (start, length) in seen:
            continue
        seen.add((start, length))
        if len(seen) > MAX_CHUNKS:
            raise fail(f"object header has more than {MAX_CHUNKS} chunks", header)
        body = get(start, length)
        head = 8 if version == 1 else 6 if ordered else 4
        pos = 0
        while pos + head <= len(body):
            if version == 1:
                kind, msize, mflags = _uint(body, pos, 2), _uint(body, pos + 2, 2), body[pos + 4]
            else:
                kind, msize, mflags = body[pos], _uint(body, pos + 1, 2), body[pos + 3]
            data_at = pos + head
            if data_at + msize > len(body):
                raise fail(f"header message of {msize} bytes runs past its chunk", start + pos)
            data = body[data_at : data_at + msize]
            if kind == ATTRIBUTE:
                yield (SHARED_ATTRIBUTE if mflags & 0x02 else ATTRIBUTE), data  # 0x02: a shared message
            elif kind == ATTRIBUTE_INFO:
                yield kind, data
            elif kind == CONTINUATION:
                if msize < sizeof_addr + sizeof_size:
                    raise fail("short continuation message", start + pos)
                address, clength = _uint(data, 0, sizeof_addr), _uint(data, sizeof_addr, sizeof_size)
                if version == 2:
                    if clength < 8 or get(address, 4) != b"OCHK":
                        raise fail("continuation chunk without its \"OCHK\" signature", address)
                    address, clength = address + 4, clength - 8
                chunks.append((address, clength))
            pos = data_at + msize


def _attribute_layout(data: bytes):
    """``(name, datatype at, dataspace at, data at)`` of an attribute message, or None if malformed."""
    if len(data) < 8 or data[0] not in (1, 2, 3):
        return None
    version = data[0]
    nsize, tsize, ssize = _uint(data, 2, 2), _uint(data, 4, 2), _uint(data, 6, 2)
    pad = (lambda n: (n + 7) & ~7) if version == 1 else (lambda n: n)
    at = 9 if version == 3 else 8
    name = data[at : at + nsize]
    types = at + pad(nsize)
    space = types + pad(tsize)
    values = space + pad(ssize)
    return name, types, space, values


def _attribute_name(data: bytes) -> Optional[bytes]:
    layout = _attribute_layout(data)
    return None if layout is None else layout[0].split(b"\0", 1)[0]


def _check_heap_id(get, fail, data: bytes, header: int, sizeof_addr: int, sizeof_size: int, limit: int) -> int:
    _name, _types, _space, at = _attribute_layout(data)
    need = 4 + sizeof_addr + 4
    if at + need > len(data):
        raise fail(f"the attribute message holds {len(data) - at} bytes of data, a heap ID needs {need}", header)
    length = _uint(data, at, 4)
    collection = _uint(data, at + 4, sizeof_addr)
    index = _uint(data, at + 4 + sizeof_addr, 4)
    if collection == 0 and length == 0:
        return 0  # a null string: the library reads no heap
    if length > limit:
        raise fail(f"a string of {length} bytes (at most {limit} read)", header)
    objects = _collection_objects(get, fail, collection, sizeof_size)
    if index == 0 or index not in objects:
        raise fail(f"global heap collection at {collection} has no object {index}", collection)
    if objects[index] != length:
        raise fail(f"global heap object {index} holds {objects[index]} bytes, the string claims {length}",
                   collection)
    return length


def _collection_objects(get, fail, address: int, sizeof_size: int) -> dict[int, int]:
    """index -> size of the objects of the collection at ``address``, walked as the library walks it."""
    head = get(address, 8 + sizeof_size)
    if head[:4] != b"GCOL" or head[4] != 1:
        raise fail("no global heap collection (\"GCOL\", version 1) where the heap ID points", address)
    total = _uint(head, 8, sizeof_size)
    if total < MIN_COLLECTION:
        raise fail(f"global heap collection of {total} bytes (the smallest is {MIN_COLLECTION})", address)
    body = get(address, total)  # inside the file, so no more than the file's size
    object_head = 8 + sizeof_size
    objects: dict[int, int] = {}
    free_set = False
    pos = 8 + sizeof_size
    while pos < total:
        if pos + object_head > total:  # a tail too short for an object header: free space
            if free_set:
                raise fail("two free-space objects", address + pos)
            free_set = True
            pos = total
            continue
        index, size = _uint(body, pos, 2), _uint(body, pos + 8, sizeof_size)
        if index:
            step = object_head + ((size + 7) & ~7)
            objects[index] = size
        else:
            step = size
            free_set = True
            if size % 8:
                raise fail(f"free space of {size} bytes is not a multiple of 8", address + pos)
        if step <= 0 or pos + step > total:
            raise fail(f"global heap object {index} of {size} bytes does not fit its collection", address + pos)
        pos += step
    return objects

