"""Notes as Markdown files with YAML front matter, and back.

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

The front matter is YAML, read with PyYAML's safe loader (no tags that build objects), so
what Obsidian, Jekyll and Hugo write is read: flow and block lists (``tags: [travel, "2026"]``),
quoted or plain strings, dates, comments, nested keys. Booleans are only ``true``/``false``.
Keys the app has no field for (``date``, ``publish``, ``aliases``, nested ``cssclass``: ...) are
kept verbatim in the note's ``extra`` field, one element per key with its lines, and written
back after the app's own keys, so editing the note in the app never drops them. A text that
begins with a ``---`` line but has no closing one (a horizontal rule), or whose block is not a
mapping, is all body; a YAML mistake in what is meant as front matter is a ``MarkdownError``
naming the line, and nothing of the file is used. Missing tags and pinned read as none and
false, as they are written, and a missing title is the file's name; the parsed note says which
fields were missing, so a re-import does not reset them.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml

from .domain import MAX_EXTRA_ITEMS, check_fields
from .errors import InvalidWrite
from .write import Value

#: Front matter longer than this (characters) is refused: it is not a note's header.
MAX_FRONT_MATTER = 64 * 1024

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
#: A top-level key line: a plain or quoted key, then a colon.
_KEY_LINE = re.compile(r"""(?:[^\s#:'"\[\]{},&*!|>%@`-][^:]*|"[^"]*"|'[^']*')[ \t]*:(?:[ \t]|$)""")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KNOWN = ("id", "title", "tags", "pinned", "created", "modified")
#: Fields a file without them leaves as the note has them.
_UNSTATED = frozenset({"title", "tags", "pinned"})
_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"


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


#: Characters YAML does not allow raw in a stream or reads as line breaks: written escaped.
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _quoted(text: str) -> str:
    """A double-quoted string both JSON and YAML read back exactly (readable: non-ASCII stays)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: "".join(f"\\u{u:04x}" for u in _utf16(m.group(0))), quoted)


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def render_note(entity: str, fields: Mapping[str, Value]) -> str:
    """The Markdown file of a note: front matter from its fields, then its body unchanged.

    Every value may come from a peer: strings are JSON-escaped (no line breaks or control
    characters reach the header), and NUL in the body becomes U+FFFD so the file stays text.
    """
    lines = ["---", f"id: {json.dumps(entity)}"]
    title = fields.get("title")
    lines.append(f"title: {_quoted(title if isinstance(title, str) else '')}")
    tags = fields.get("tags")
    tag_list = [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    lines.append(f"tags: [{', '.join(_quoted(t) for t in tag_list)}]")
    lines.append(f"pinned: {'true' if fields.get('pinned') is True else 'false'}")
    for name in ("created", "modified"):
        value = fields.get(name)
        if _time_ok(value):
            assert isinstance(value, int)
            lines.append(f"{name}: {_ms_to_iso(value)}")
    lines += _kept_keys(fields.get("extra"))
    body = fields.get("body")
    text = body.replace("\x00", "\ufffd") if isinstance(body, str) else ""
    return "\n".join(lines) + "\n---\n" + text


def _kept_keys(extra: Value) -> list[str]:
    """The lines of the other tools' keys a note keeps. They may come from a peer: only a block
    that is YAML of exactly one top-level key the app does not write itself, with no line that
    would close the front matter, is written (anything else could change the note's fields)."""
    out: list[str] = []
    for block in extra if isinstance(extra, list) else []:
        if not isinstance(block, str) or "\r" in block or "\x00" in block:
            continue
        lines = block.split("\n")
        if any(line.rstrip() in ("---", "...") for line in lines) or not _KEY_LINE.match(lines[0]):
            continue
        try:
            node = yaml.compose(block, Loader=_Loader)
        except yaml.YAMLError:
            continue
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            continue
        if str(node.value[0][0].value) in _KNOWN:
            continue
        out += lines
    return out


# -- reading --------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading scalars as YAML 1.2 and Obsidian do: only ``true`` and
    ``false`` are booleans (``yes``, ``on``, ``no`` stay words) and numbers with a point stay
    text (``1.10`` is a version, not 1.1)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _split(text: str) -> tuple[str, str] | None:
    """(front matter, body), or None when the text has none: no ``---`` first line, or no
    closing ``---``/``...`` line (a note may begin with a horizontal rule)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    first, nl, rest = text.partition("\n")
    if first.rstrip("\r") != "---" or not nl:
        return None
    at = 0
    while at <= len(rest):
        end = rest.find("\n", at)
        line = rest[at:] if end < 0 else rest[at:end]
        if line.rstrip("\r") in ("---", "..."):
            if at > MAX_FRONT_MATTER:
                raise MarkdownError(f"front matter longer than {MAX_FRONT_MATTER} characters")
            return rest[:at], ("" if end < 0 else rest[end + 1 :])
        if end < 0:
            return None
        at = end + 1
    return None


def _looks_like_keys(front: str) -> bool:
    """Whether a block between two ``---`` lines is meant as front matter (it starts with a
    ``key:``), so a YAML mistake in it is reported rather than read as the body."""
    for line in front.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return bool(_KEY_LINE.match(line))
    return True


def _compose(front: str) -> yaml.MappingNode | None:
    """The front matter's top-level mapping (None when it is not a mapping: then the block is
    part of the body); a YAML error in what looks like front matter names its line."""
    try:
        node = yaml.compose(front, Loader=_Loader)
    except yaml.YAMLError as exc:
        if not _looks_like_keys(front):
            return None
        # The line where the unclosed string or list began, else where the problem was seen.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise MarkdownError(f"{where}front matter is not valid YAML ({problem})") from None
    if node is None:
        return yaml.MappingNode("tag:yaml.org,2002:map", [])
    return node if isinstance(node, yaml.MappingNode) else None


def _value(node: yaml.Node, key: str, line: int) -> Any:
    try:
        return _Loader(io.StringIO("")).construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise MarkdownError(f"line {line}: {key}: {exc}"[:200]) from None


def _blocks(front: str, node: yaml.MappingNode) -> dict[str, tuple[str, int]]:
    """Each top-level key's lines exactly as written (comments and blank lines after it
    included), by key, with its line in the file."""
    lines = front.split("\n")
    starts = [k.start_mark.line for k, _ in node.value]
    out: dict[str, tuple[str, int]] = {}
    for index, (key, _) in enumerate(node.value):
        end = starts[index + 1] if index + 1 < len(starts) else len(lines)
        block = "\n".join(line.rstrip("\r") for line in lines[starts[index] : end]).rstrip()
        out[str(key.value)] = (block, starts[index] + 2)
    return out


def _front_matter(front: str) -> tuple[dict[str, tuple[Any, int]], list[str]] | None:
    """Known keys' values (with their lines) and the other keys' text, or None: not front matter."""
    node = _compose(front)
    if node is None:
        return None
    known: dict[str, tuple[Any, int]] = {}
    seen: set[str] = set()
    flat = len({k.start_mark.line for k, _ in node.value}) == len(node.value)
    blocks = _blocks(front, node) if flat else {}
    extra: list[str] = []
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 2
        if key in seen:
            raise MarkdownError(f"line {line}: {key} given twice")
        seen.add(key)
        if key in _KNOWN:
            known[key] = (_value(value_node, key, line), line)
        elif flat:
            extra.append(blocks[key][0])
        else:  # a flow mapping on one line: written back key by key
            value = _value(value_node, key, line)
            extra.append(yaml.safe_dump({key: value}, allow_unicode=True, sort_keys=False).rstrip())
    return known, extra


def _iso_to_ms(raw: Any, key: str, line: int) -> int:
    if type(raw) is int:
        return raw
    stamp: datetime | None = None
    if isinstance(raw, datetime):
        stamp = raw
    elif isinstance(raw, date):
        stamp = datetime.combine(raw, datetime.min.time())
    elif isinstance(raw, str):
        try:
            stamp = datetime.fromisoformat(raw)
        except ValueError:
            stamp = None
    if stamp is None:
        raise MarkdownError(f"line {line}: {key} must be a date and time, like 2026-11-21T10:00:00Z")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // timedelta(milliseconds=1)


def _words(value: Any) -> str | None:
    """A scalar as the text it was written as (None for a list, a mapping or null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | date):
        return value.isoformat() if isinstance(value, date) else str(value)
    return None


def _title(raw: dict[str, tuple[Any, int]], fallback: str) -> str:
    value, line = raw.get("title", (None, 0))
    if value is None:
        return fallback
    text = _words(value)
    if text is None:
        raise MarkdownError(f"line {line}: title must be text")
    return text


def _tags(raw: dict[str, tuple[Any, int]]) -> list[str]:
    value, line = raw.get("tags", (None, 0))
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    tags = [_words(t) for t in value]
    if any(t is None for t in tags) or isinstance(raw["tags"][0], dict):
        raise MarkdownError(f"line {line}: tags must be a list of words")
    return [t for t in tags if t is not None]


def _entity(raw: dict[str, tuple[Any, int]]) -> str | None:
    value, line = raw.get("id", (None, 0))
    if value is None:
        return None
    text = _words(value)
    if text is None or not _ID.fullmatch(text):
        raise MarkdownError(f"line {line}: id must be letters, digits and ._:@- (128 at most)")
    return text


def _fields(raw: dict[str, tuple[Any, int]], extra: list[str], fallback_title: str) -> dict[str, Value]:
    fields: dict[str, Value] = {"title": _title(raw, fallback_title), "tags": list(_tags(raw))}
    pinned, line = raw.get("pinned", (None, 0))
    if pinned is not None and not isinstance(pinned, bool):
        raise MarkdownError(f"line {line}: pinned must be true or false")
    fields["pinned"] = pinned is True
    for key in ("created", "modified"):
        if key in raw and raw[key][0] is not None:
            fields[key] = _iso_to_ms(raw[key][0], key, raw[key][1])
    if len(extra) > MAX_EXTRA_ITEMS:
        raise MarkdownError(f"more than {MAX_EXTRA_ITEMS} front-matter keys")
    fields["extra"] = list(extra)
    try:
        check_fields("note", fields)
    except InvalidWrite as exc:
        raise MarkdownError(str(exc)) from None
    return fields


def parse_note(text: str, fallback_title: str = "") -> ParsedNote:
    """Read a note; ``fallback_title`` (the file name) is its title if the file names none.

    Front matter is YAML (read with PyYAML's safe loader), as Obsidian, Jekyll and Hugo write
    it; keys the app has no field for are kept verbatim in ``extra``. Text that starts with a
    ``---`` line but has no closing one, or whose block is not a mapping, is all body."""
    split = _split(text)
    found = _front_matter(split[0]) if split is not None else None
    if split is None or found is None:
        fields: dict[str, Value] = {"title": fallback_title, "tags": [], "pinned": False, "extra": []}
        return ParsedNote(None, fields, text.removeprefix("\ufeff"), _UNSTATED | {"extra"})
    raw, extra = found
    fields = _fields(raw, extra, fallback_title)
    defaulted = frozenset(k for k in _UNSTATED if k not in raw)
    if raw.get("title", (None, 0))[0] is None:
        defaulted |= {"title"}
    return ParsedNote(_entity(raw), fields, split[1], defaulted)
