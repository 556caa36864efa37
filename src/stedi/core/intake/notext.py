"""Exports that are not UTF-8 text, and what the quarantine keeps of them (pure Python, on the
driver).

Every export is read as UTF-8 text by the engine. A file that is not (random bytes, a
Latin-1 or UTF-16 export, a `.gz` that does not decompress) would stop the whole intake on
Sail ("invalid UTF-8 data") and be read by Spark with each bad byte turned into U+FFFD
(lines of garbage landed or quarantined as if they were text). So the ledger's hash pass,
which reads every new or changed file once anyway, checks it too (`TextCheck`); a file that
is not text is never given to the engine.

Such a file is decided whole: none of its lines lands, even those that decode (in a Latin-1
export the lines without an accented letter would decode, and land apart from their
neighbours; a re-delivered, corrected file replaces the whole file's records). Each of its
non-blank lines is one quarantined record, reason `not_text`, `position` its line number
(`not_text_units`), so that the accounting balances: `read` counts those lines.

The quarantine's `raw` is text (one string column for every reason, and the only column
the erasure's token search reads). A `not_text` record's `raw` is its line made readable
and reversible (`escape_line`): what decodes as UTF-8 stays as it is, every other byte is
written `\\xNN` (two lower-case hex digits), and so are the control characters but tab
(including CR and NUL), and a backslash is written `\\\\`. So `Jos\\xe9` shows where a
Latin-1 `é` stood, and `line_bytes(raw)` gives back the line's exact bytes.
"""

from __future__ import annotations

import codecs
import re
import zlib

from stedi.core import storage

NOT_TEXT = "not_text"  # the record kind, and the quarantine reason

_GZIP_WBITS = 31  # zlib: a gzip header and trailer
# What escape_line writes as \xNN: bytes that are not UTF-8 (decoded as lone surrogates by
# surrogateescape), control characters but tab, DEL; and the backslash, written \\.
_ESCAPED = re.compile("[\\\\\x00-\x08\x0a-\x1f\x7f\udc80-\udcff]")
_UNESCAPE = re.compile(r"\\(?:\\|x([0-9a-f]{2}))")
_BLANK = b" \t\r\n"


class TextCheck:
    """Whether a file's bytes, fed in blocks (`update`), are UTF-8 text (`finish`); a `.gz`
    file's once decompressed (every gzip member), and a `.gz` that does not decompress whole is
    not."""

    def __init__(self, path: str):
        self._gunzip = zlib.decompressobj(_GZIP_WBITS) if str(path).endswith(".gz") else None
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._seen = False
        self.text = True

    def update(self, block: bytes) -> None:
        if not self.text or not block:
            return
        self._seen = True
        try:
            data = block
            if self._gunzip is not None:
                data = self._gunzip.decompress(block)
                while self._gunzip.eof and self._gunzip.unused_data:  # the next gzip member
                    rest = self._gunzip.unused_data
                    self._gunzip = zlib.decompressobj(_GZIP_WBITS)
                    data += self._gunzip.decompress(rest)
            self._utf8.decode(data)
        except (UnicodeDecodeError, zlib.error):
            self.text = False

    def finish(self) -> bool:
        if self.text and self._seen:
            try:
                self._utf8.decode(b"", final=True)  # a character cut off at the end
            except UnicodeDecodeError:
                self.text = False
            if self._gunzip is not None and not self._gunzip.eof:  # a truncated gzip file
                self.text = False
        return self.text


def escape_line(line: bytes) -> str:
    """A line's bytes as readable, reversible text (see the module docstring)."""

    def escaped(match: re.Match) -> str:
        char = match.group(0)
        if char == "\\":
            return "\\\\"
        code = ord(char)
        return f"\\x{code - 0xDC00 if code >= 0xDC80 else code:02x}"

    return _ESCAPED.sub(escaped, line.decode("utf-8", "surrogateescape"))


def line_bytes(raw: str) -> bytes:
    """The exact bytes of a line that `escape_line` wrote as `raw`."""
    out, start = bytearray(), 0
    for match in _UNESCAPE.finditer(raw):
        out += raw[start : match.start()].encode("utf-8")
        out += b"\\" if match.group(1) is None else bytes([int(match.group(1), 16)])
        start = match.end()
    out += raw[start:].encode("utf-8")
    return bytes(out)


def file_content(path: str) -> bytes:
    """A file's bytes as the engine would have read them: a `.gz` file decompressed when it can
    be, else (it is damaged) as stored."""
    with storage.open_binary(path) as handle:
        data = handle.read()
    if str(path).endswith(".gz"):
        gunzip, out = zlib.decompressobj(_GZIP_WBITS), b""
        try:
            out = gunzip.decompress(data)
            while gunzip.eof and gunzip.unused_data:
                rest = gunzip.unused_data
                gunzip = zlib.decompressobj(_GZIP_WBITS)
                out += gunzip.decompress(rest)
        except zlib.error:
            return data
        return out if gunzip.eof else data
    return data


def not_text_units(content: bytes) -> list[tuple[int, str]]:
    """(line number, escaped line) of every line of `content` that is not blank: the records of
    a file that is not text."""
    return [
        (number, escape_line(line))
        for number, line in enumerate(content.split(b"\n"), 1)
        if line.strip(_BLANK)
    ]
