"""Every file of a lake decoded, for the erasure tests: Parquet rows, Avro manifests and manifest
lists (container blocks decompressed), metadata JSON, SQLite catalogs: `holding(root, value)`."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pyarrow.parquet as pq

AVRO_MAGIC = b"Obj\x01"
PARQUET_MAGIC = b"PAR1"


def _long(stream) -> int:
    """An Avro long: zig-zag varint."""
    shift = result = 0
    while True:
        byte = stream.read(1)[0]
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1)


def _bytes(stream) -> bytes:
    return stream.read(_long(stream))


def avro_blocks(data: bytes) -> tuple[dict[str, bytes], list[bytes]]:
    """(header metadata, each data block decompressed) of an Avro object container file."""
    stream = io.BytesIO(data)
    assert stream.read(4) == AVRO_MAGIC, "not an Avro container"
    meta: dict[str, bytes] = {}
    while (count := _long(stream)) != 0:
        if count < 0:
            count = -count
            _long(stream)  # the block's size in bytes
        for _ in range(count):
            key = _bytes(stream).decode()
            meta[key] = _bytes(stream)
    sync = stream.read(16)
    codec = meta.get("avro.codec", b"null").decode()
    blocks = []
    while stream.tell() < len(data):
        _long(stream)  # objects in the block
        block = _bytes(stream)
        if codec == "deflate":
            block = zlib.decompress(block, -15)
        elif codec != "null":
            raise AssertionError(f"codec {codec} not decoded by this test")
        blocks.append(block)
        assert stream.read(16) == sync
    return meta, blocks


def decoded(path: Path) -> bytes:
    """A file's content as the bytes a value would appear in: Parquet rows rendered, Avro blocks
    decompressed (strings are stored as UTF-8 in both), anything else as it is."""
    data = path.read_bytes()
    if path.suffix == ".parquet" or data[:4] == PARQUET_MAGIC:
        table = pq.read_table(path)
        return repr(table.to_pylist()).encode() + data
    if data.startswith(AVRO_MAGIC):
        meta, blocks = avro_blocks(data)
        return data + b"".join(meta.values()) + b"".join(blocks)
    return data


def holding(root, *values: str, ignore_case: bool = False) -> list[str]:
    """The files under `root` whose decoded content holds any of `values` (`ignore_case`: in any
    case). Each file is decoded once, however many values are looked for: rendering every Parquet
    row of a lake is the slow part."""
    assert values, "no value to look for"
    fold = bytes.lower if ignore_case else (lambda text: text)
    needles = [fold(v.encode()) for v in values]
    found = []
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            text = fold(decoded(path))
            if any(needle in text for needle in needles):
                found.append(str(path))
    return found


def kinds(root) -> dict[str, int]:
    """How many files of each kind lie under `root` (by suffix), to show what the decoding
    covered."""
    found: dict[str, int] = {}
    for p in Path(root).rglob("*"):
        if p.is_file():
            kind = "avro" if p.read_bytes()[:4] == AVRO_MAGIC else p.suffix
            found[kind] = found.get(kind, 0) + 1
    return found
