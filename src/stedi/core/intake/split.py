"""Cutting the text of one export file into records, whatever its layout: pure Python (it runs on
the executors).

`position` is the 1-based ordinal of a record in its file: records counted in file
order, where a record is one JSON object, one truncated object or one run of text
that is not JSON (up to the end of its line); blank lines and the separators
between objects (`,`, `[`, `]`, whitespace) are not records. In a JSON-lines file
without blank lines this is the line number.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

# What a piece of an export file is, as `split_records` sees it.
RECORD = "record"  # one complete JSON object (whether it holds usable values is decided later)
TRUNCATED = "truncated"  # an object that starts but never closes: the file (or its line) ends first
NOT_JSON = "not_json"  # text that is not a JSON object
UNSPLIT = "unsplit"  # a whole file that is not clean JSON lines, still to be cut by split_records

# JSON whitespace, plus the byte-order mark (tolerated anywhere between records).
_WS = " \t\r\n\ufeff"
_SEPARATORS = re.compile(r"[ \t\r\n\ufeff,\[\]]*")
# A line whose first non-blank character opens an object: the start of the next record.
_RECORD_LINE = re.compile(r"\n[ \t\r\ufeff]*\{")
# Strings (an unterminated one stops at the end of its line) and braces, for finding
# where a broken object ends.
_BROKEN_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[{}]')
_DECODER = json.JSONDecoder()


class RawRecord(NamedTuple):
    position: int  # 1-based ordinal in the file
    kind: str  # RECORD, TRUNCATED or NOT_JSON
    raw: str  # the record's text, exactly as in the file (trailing whitespace removed)


def split_records(text: str) -> list[RawRecord]:
    """Cut the text of one export file into records, whatever its layout.

    Handles JSON lines, objects run together (`}{`), objects separated by commas
    and newlines, JSON arrays (compact or pretty-printed), CRLF line endings and
    byte-order marks. Between records, whitespace, `,`, `[` and `]` are separators.
    A `{` starts an object: if it parses, it is a RECORD; if it does not, it is
    TRUNCATED when its braces never close (before the end of its line, or for a
    pretty-printed object before the next object or the end of the file),
    NOT_JSON otherwise. Any other text, up to the end of its line, is NOT_JSON.
    Nothing is dropped: the records' texts and the separators between them make up
    the whole file.
    """
    records: list[RawRecord] = []
    n = len(text)
    i = 0
    while True:
        i = _SEPARATORS.match(text, i).end()
        if i >= n:
            return records
        if text[i] == "{":
            try:
                _, end = _DECODER.raw_decode(text, i)
                kind = RECORD
            except (json.JSONDecodeError, RecursionError):
                end, closed = _broken_object_end(text, i)
                kind = NOT_JSON if closed else TRUNCATED
        else:
            end = text.find("\n", i)
            end = n if end < 0 else end
            kind = NOT_JSON
        records.append(RawRecord(len(records) + 1, kind, text[i:end].rstrip(_WS)))
        i = end


def _broken_object_end(text: str, start: int) -> tuple[int, bool]:
    """Where an object that does not parse ends, and whether its braces close.

    An object that begins with content on its first line (JSON lines, objects run
    together) ends with that line; one whose first line is a bare `{` (pretty-printed)
    ends before the next line that begins with `{`, the next record. Within that, it
    ends at its closing brace (strings taken into account), if it has one. So a
    record cut short never swallows the records after it.
    """
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    if text[start + 1 : line_end].strip(_WS):
        limit = line_end
    else:
        following = _RECORD_LINE.search(text, start + 1)
        limit = following.start() if following else len(text)
    depth = 0
    for token in _BROKEN_TOKENS.finditer(text, start, limit):
        brace = token.group()
        if brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            if depth == 0:
                return token.end(), True
    return limit, False
