"""Notes as Markdown files with a small front matter, and back.

A note is written as::

    ---
    id: "5f0c..."
    title: "Groceries"
    tags: ["home", "weekly"]
    pinned: false
    created: 2026-11-21T10:00:00.000Z
    modified: 2026-11-21T10:05:00.000Z
    ---
    the body, byte for byte

The front matter is a strict subset of YAML that other tools (Obsidian, static site
generators) read: one ``key: value`` per line; strings double-quoted (JSON escapes), single-
quoted or plain; lists in brackets or as ``- item`` lines below the key; ``true``/``false``;
times as ISO 8601 UTC. The parser is hand-written and strict about what it reads: anything
else is a ``MarkdownError`` naming the line, and nothing of the file is used. Keys it does not
know (other tools add some) are skipped. A file without front matter is all body. Missing tags and
pinned read as none and false, as they are written, and a missing title is the file's name; the
parsed note says which fields were missing, so a re-import does not reset them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .domain import check_fields
from .errors import InvalidWrite
from .write import Value

#: Front matter longer than this (characters) is refused: it is not a note's header.
MAX_FRONT_MATTER = 64 * 1024

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*")
_ITEM = re.compile(r"[ \t]+-(?:[ \t]+(.*?))?[ \t]*")
_PLAIN_BAD_START = tuple("[]{}&*!|>'\"%@`#,?:-")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KNOWN = ("id", "title", "tags", "pinned", "created", "modified")


class MarkdownError(ValueError):
    """The file is not a note this app can read; the message says where and why."""


@dataclass(slots=True)
class ParsedNote:
    """A note read from Markdown: its id if the front matter names one, fields and body.

    ``defaulted`` names the fields the file does not state (filled in with defaults): they are
    a new note's values, but importing the file again leaves an existing note's values alone.
    """

    id: str | None
    fields: dict[str, Value] = field(default_factory=dict)
    body: str = ""
    defaulted: frozenset[str] = frozenset()


# -- writing --------------------------------------------------------------------------------------


def _ms_to_iso(ms: int) -> str:
    stamp = datetime.fromtimestamp(ms // 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _time_ok(value: Value) -> bool:
    return type(value) is int and 0 <= value < 253_402_300_800_000  # before year 10000


def render_note(entity: str, fields: Mapping[str, Value]) -> str:
    """The Markdown file of a note: front matter from its fields, then its body unchanged.

    Every value may come from a peer: strings are JSON-escaped (no line breaks or control
    characters reach the header), and NUL in the body becomes U+FFFD so the file stays text.
    """
    lines = ["---", f"id: {json.dumps(entity)}"]
    title = fields.get("title")
    lines.append(f"title: {json.dumps(title if isinstance(title, str) else '', ensure_ascii=False)}")
    tags = fields.get("tags")
    tag_list = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    lines.append(f"tags: {json.dumps(tag_list, ensure_ascii=False)}")
    lines.append(f"pinned: {'true' if fields.get('pinned') is True else 'false'}")
    for name in ("created", "modified"):
        value = fields.get(name)
        if _time_ok(value):
            assert isinstance(value, int)
            lines.append(f"{name}: {_ms_to_iso(value)}")
    body = fields.get("body")
    text = body.replace("\x00", "\ufffd") if isinstance(body, str) else ""
    return "\n".join(lines) + "\n---\n" + text


# -- reading --------------------------------------------------------------------------------------


def _scalar(raw: str, line: int) -> Value:
    """One front matter value: a quoted or plain string, a bool, an int or a flow list."""
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except ValueError:
            raise MarkdownError(f"line {line}: bad double-quoted string") from None
        if not isinstance(value, str):
            raise MarkdownError(f"line {line}: bad double-quoted string")
        return value
    if raw.startswith("'"):
        if len(raw) < 2 or not raw.endswith("'") or "'" in raw[1:-1].replace("''", ""):
            raise MarkdownError(f"line {line}: bad single-quoted string")
        return raw[1:-1].replace("''", "'")
    if raw.startswith("["):
        return _flow_list(raw, line)
    if raw in ("true", "True", "TRUE"):
        return True
    if raw in ("false", "False", "FALSE"):
        return False
    if raw in ("null", "~", "Null", "NULL"):
        return None
    if re.fullmatch(r"[-+]?[0-9]+", raw):
        return int(raw)
    if raw.startswith(_PLAIN_BAD_START) or ": " in raw or " #" in raw:
        raise MarkdownError(f"line {line}: quote this value: {raw[:40]!r}")
    return raw


def _flow_list(raw: str, line: int) -> list[Value]:
    if not raw.endswith("]"):
        raise MarkdownError(f"line {line}: unterminated list")
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, list):
        return value
    inner = raw[1:-1].strip()
    if not inner:
        return []
    items: list[Value] = []
    for part in inner.split(","):
        item = part.strip()
        if not item or item.startswith(("[", "{", '"', "'")):
            raise MarkdownError(f'line {line}: write this list as ["a", "b"]')
        items.append(_scalar(item, line))
    return items


def _split(text: str) -> tuple[list[str], str] | None:
    """(front matter lines, body), or None when the text has no front matter."""
    if text.startswith("\ufeff"):
        text = text[1:]
    first, nl, rest = text.partition("\n")
    if first.rstrip("\r") != "---" or not nl:
        return None
    lines: list[str] = []
    consumed = 0
    while True:
        if consumed > MAX_FRONT_MATTER:
            raise MarkdownError(f"front matter longer than {MAX_FRONT_MATTER} characters")
        line, nl, rest2 = rest.partition("\n")
        if line.rstrip("\r") in ("---", "..."):
            return lines, rest2
        if not nl:
            raise MarkdownError("front matter is not closed by a '---' line")
        lines.append(line.rstrip("\r"))
        consumed += len(line) + 1
        rest = rest2


def _iso_to_ms(raw: Value, key: str, line: int) -> int:
    if type(raw) is int:
        return raw
    if isinstance(raw, str):
        try:
            stamp = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            return (stamp - _EPOCH) // timedelta(milliseconds=1)
    raise MarkdownError(f"line {line}: {key} must be a date and time, like 2026-11-21T10:00:00Z")


def parse_note(text: str, fallback_title: str = "") -> ParsedNote:
    """Read a note; ``fallback_title`` (the file name) is its title if the file names none."""
    split = _split(text)
    if split is None:
        return ParsedNote(
            None,
            {"title": fallback_title, "tags": [], "pinned": False},
            text.removeprefix("\ufeff"),
            frozenset({"title", "tags", "pinned"}),
        )
    lines, body = split
    raw: dict[str, tuple[Value, int]] = {}
    i = 0
    while i < len(lines):
        number = i + 2  # the opening '---' is line 1
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            raise MarkdownError(f"line {number}: unexpected indentation")
        match = _KEY.fullmatch(line)
        if match is None:
            raise MarkdownError(f"line {number}: expected 'key: value'")
        key, value = match.group(1), match.group(2)
        if key in raw:
            raise MarkdownError(f"line {number}: {key} given twice")
        if value is None or value == "":
            # A block list (``- item`` lines), or an empty value; unknown keys may nest more.
            items: list[Value] = []
            while i < len(lines) and (not lines[i].strip() or lines[i][0] in " \t"):
                item = _ITEM.fullmatch(lines[i])
                if item is not None and item.group(1):
                    items.append(_scalar(item.group(1), i + 2))
                elif lines[i].strip() and key in _KNOWN:
                    raise MarkdownError(f"line {i + 2}: expected '- item' under {key}")
                i += 1
            raw[key] = (items, number) if items else (None, number)
            continue
        if key in _KNOWN:
            raw[key] = (_scalar(value, number), number)
        else:
            raw[key] = (None, number)  # another tool's key: kept out of the note
    entity: str | None = None
    fields: dict[str, Value] = {}
    if "id" in raw:
        value, number = raw["id"]
        if value is not None:
            if isinstance(value, int):
                value = str(value)
            if not isinstance(value, str) or not _ID.fullmatch(value):
                raise MarkdownError(f"line {number}: id must be letters, digits and ._:@- (128 at most)")
            entity = value
    value, number = raw.get("title", (None, 0))
    if value is None:
        fields["title"] = fallback_title
    elif isinstance(value, str | int) and not isinstance(value, bool):
        fields["title"] = str(value)
    else:
        raise MarkdownError(f"line {number}: title must be text")
    fields["tags"] = []
    if "tags" in raw:
        value, number = raw["tags"]
        if value is None:
            fields["tags"] = []
        elif isinstance(value, str):
            fields["tags"] = [value]
        elif isinstance(value, list) and all(isinstance(t, str | int) for t in value):
            fields["tags"] = [str(t) for t in value]
        else:
            raise MarkdownError(f"line {number}: tags must be a list of words")
    fields["pinned"] = False
    if "pinned" in raw:
        value, number = raw["pinned"]
        if value is not None and not isinstance(value, bool):
            raise MarkdownError(f"line {number}: pinned must be true or false")
        fields["pinned"] = value is True
    for key in ("created", "modified"):
        if key in raw and raw[key][0] is not None:
            fields[key] = _iso_to_ms(raw[key][0], key, raw[key][1])
    try:
        check_fields("note", fields)
    except InvalidWrite as exc:
        raise MarkdownError(str(exc)) from None
    defaulted = frozenset(k for k in ("title", "tags", "pinned") if k not in raw)
    if raw.get("title", (None, 0))[0] is None:
        defaulted |= {"title"}
    return ParsedNote(entity, fields, body, defaulted)
