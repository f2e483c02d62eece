"""The lines of an iCalendar file the app keeps verbatim: scanned on import, spliced on export.

``localfirst.ics`` reads what it understands with the ``icalendar`` package. Everything else
(properties it has no field for, such as ATTENDEE, ORGANIZER, CATEGORIES, URL, CLASS, STATUS,
TRANSP, X- properties; alarms it cannot show; components such as VTODO and VJOURNAL) is kept
as the exact unfolded content lines of the file: an event's ``extra`` field, a calendar's
``extra`` field. Each element is one property line, or one component (its lines joined by
``\\n``, ``BEGIN:`` to ``END:``). On export they are folded again and written back where
RFC 5545 puts them: properties before subcomponents, components after the events.

Pure text in, text out; never raises on odd input (a line without a colon is kept as it is).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Unfolding (RFC 5545 3.1): a line break followed by one space or tab continues the line.
_FOLD = re.compile(r"\r?\n[ \t]")
_NAME = re.compile(r"[^;:]*")
#: Octets per folded line (RFC 5545 3.1: 75, not counting the line break).
FOLD_AT = 75


@dataclass(slots=True)
class RawComponent:
    """A component's own property lines ``(NAME, line)`` and its subcomponents' raw lines."""

    name: str
    props: list[tuple[str, str]] = field(default_factory=list)
    children: list[RawComponent] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # every line, BEGIN to END

    def text(self) -> str:
        return "\n".join(self.lines)


def unfold(text: str) -> list[str]:
    """The content lines of a text, unfolded; blank lines dropped."""
    return [line.rstrip("\r") for line in _FOLD.sub("", text).split("\n") if line.strip("\r ")]


def prop_name(line: str) -> str:
    match = _NAME.match(line)
    return (match.group(0) if match else line).strip().upper()


def scan(text: str) -> list[RawComponent]:
    """The top-level components of a text (normally VCALENDARs), with their nested lines."""
    roots: list[RawComponent] = []
    stack: list[RawComponent] = []
    for line in unfold(text):
        name = prop_name(line)
        if name == "BEGIN":
            comp = RawComponent(line.partition(":")[2].strip().upper())
            (stack[-1].children if stack else roots).append(comp)
            stack.append(comp)
        if stack:
            for comp in stack:
                comp.lines.append(line)
            if name not in ("BEGIN", "END"):
                stack[-1].props.append((name, line))
        if name == "END" and stack:
            stack.pop()
    return roots


def split_line(line: str) -> tuple[str, str | None]:
    """(name and parameters, value) of a content line: the value starts after the first colon
    outside double quotes (a parameter such as ALTREP="http://..." holds colons); None: no value."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return line[:index], line[index + 1 :]
    return line, None


def fold(line: str) -> str:
    """One content line folded at 75 octets (never inside a UTF-8 sequence), with CRLF."""
    data = line.encode("utf-8")
    if len(data) <= FOLD_AT:
        return line + "\r\n"
    parts: list[str] = []
    limit = FOLD_AT
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # do not split a character
        parts.append(data[:cut].decode("utf-8"))
        data = data[cut:]
        limit = FOLD_AT - 1  # continuation lines start with a space
    return "\r\n ".join(parts) + "\r\n"


def fold_all(elements: Iterable[str]) -> str:
    """Kept elements (lines, or components with ``\\n`` between their lines) as folded text."""
    return "".join(fold(line) for element in elements for line in element.split("\n") if line)


def is_component(element: str) -> bool:
    return element[:6].upper() == "BEGIN:"


#: A content line: a name, then parameters or the value; no line breaks or control characters.
_LINE = re.compile(r"[A-Za-z0-9-]+[;:][^\x00-\x08\x0a-\x1f\x7f]*")
#: Components kept elements may never open (they would change what the file holds).
_NEVER = frozenset({"VCALENDAR", "VEVENT", "VTIMEZONE"})


def safe_line(line: str) -> bool:
    """A kept property line that cannot break the file's structure (it may come from a peer)."""
    return bool(_LINE.fullmatch(line)) and prop_name(line) not in ("BEGIN", "END")


def safe_component(element: str) -> bool:
    """A kept component that is one balanced BEGIN..END block of safe lines (not an event,
    calendar or time zone: those are the app's own)."""
    stack: list[str] = []
    lines = element.split("\n")
    for index, line in enumerate(lines):
        name = prop_name(line)
        if name in ("BEGIN", "END"):
            comp = line.partition(":")[2].strip().upper()
            if not re.fullmatch(r"[A-Z0-9-]+", comp) or comp in _NEVER:
                return False
            if name == "BEGIN":
                stack.append(comp)
            elif not stack or stack.pop() != comp or (not stack and index != len(lines) - 1):
                return False
        elif not stack or not safe_line(line):
            return False
    return not stack and len(lines) >= 2
