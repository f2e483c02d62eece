"""Library commands as a script runs them (``devices``, ``rename``, ``revoke``, ``conflicts``,
``resolve``, ``note``, ``event``, ``calendar``): real processes, on a stopped library under the
lock and through a running node, every ``--json`` reply asserted exactly."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.nodes import NodeProcess, run_cli, wait_for

pytestmark = pytest.mark.timeout(180)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args, env={"TZ": "UTC"})


def js(data: Path, *args: str) -> Any:
    done = cli(data, *args, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def fails(data: Path, *args: str, status: int = 1) -> str:
    """The one line a refused command prints (and it exits with ``status``)."""
    done = cli(data, *args)
    assert done.returncode == status, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    return done.stderr if status == 2 else done.stderr.removesuffix("\n")


@pytest.fixture(params=["offline", "node"])
def library(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A data folder with a library: stopped (commands take the lock) or served by a node."""
    data = tmp_path / "data"
    if request.param == "offline":
        assert cli(data, "init").returncode == 0
        yield data
        return
    node = NodeProcess(data, "--no-discovery", name="desk")
    try:
        yield data
        assert node.proc.poll() is None  # every command went through it, none stopped it
    finally:
        node.stop()


def test_note_add_show_edit_delete(library: Path, tmp_path: Path) -> None:
    added = js(
        library, "note", "add", "--title", "Groceries", "--body", "- milk", "--tag", "home", "--tag", "food"
    )
    nid = added["id"]
    assert ISO_UTC.match(added["created"])
    assert added["modified"] == added["created"]
    stamp = added["created"]
    assert added == {
        "id": nid,
        "title": "Groceries",
        "body": "- milk",
        "tags": ["home", "food"],
        "pinned": False,
        "created": stamp,
        "modified": stamp,
        "conflicts": [],
    }
    assert js(library, "note", "show", nid[:6]) == added
    assert js(library, "note", "list") == {
        "notes": [
            {"id": nid, "title": "Groceries", "tags": ["home", "food"], "pinned": False, "modified": stamp}
        ]
    }
    body = tmp_path / "body.md"
    body.write_text("- milk\n- bread\n")
    edited = js(library, "note", "edit", nid, "--title", "Shopping", "--body-file", str(body), "--pin")
    assert ISO_UTC.match(edited["modified"])
    assert edited == {
        **added,
        "title": "Shopping",
        "body": "- milk\n- bread\n",
        "pinned": True,
        "modified": edited["modified"],
    }
    assert js(library, "note", "show", nid) == edited
    assert js(library, "note", "list", "--tag", "work") == {"notes": []}
    assert js(library, "note", "delete", nid) == {"id": nid, "deleted": True}
    assert fails(library, "note", "show", nid) == f"localfirst: no note {nid!r}"
    assert js(library, "note", "list") == {"notes": []}


def test_event_add_show_list_edit_delete(library: Path) -> None:
    cal = js(library, "calendar", "add", "Work", "--colour", "#ff0000")
    assert cal == {"id": cal["id"], "name": "Work", "colour": "#ff0000", "bookable": False}
    assert js(library, "calendar", "list") == {"calendars": [cal]}
    added = js(
        library,
        *("event", "add", "--title", "Standup", "--start", "2026-12-07T09:00", "--end", "2026-12-07T09:15"),
        *("--tz", "Europe/Berlin", "--rrule", "FREQ=WEEKLY;COUNT=3", "--location", "Room 1"),
    )
    eid = added["id"]
    assert added == {
        "id": eid,
        "title": "Standup",
        "calendar": cal["id"],
        "calendar_name": "Work",
        "start": "2026-12-07T09:00:00",
        "end": "2026-12-07T09:15:00",
        "all_day": False,
        "tz": "Europe/Berlin",
        "rrule": "FREQ=WEEKLY;COUNT=3",
        "location": "Room 1",
        "description": "",
        "booking": None,
        "slot": None,
    }
    assert js(library, "event", "show", eid[:5]) == added
    assert js(library, "event", "list") == {"events": [added]}
    window = js(library, "event", "list", "--from", "2026-12-01T00:00Z", "--to", "2026-12-15T00:00Z")
    assert window == {
        "events": [
            {
                "id": eid,
                "occurrence": occ,
                "title": "Standup",
                "calendar": cal["id"],
                "start": start,
                "end": end,
                "all_day": False,
                "recurring": True,
                "booking": None,
                "slot": None,
            }
            for occ, start, end in [
                (f"{eid}@2026-12-07T09:00:00", "2026-12-07T08:00:00+00:00", "2026-12-07T08:15:00+00:00"),
                (f"{eid}@2026-12-14T09:00:00", "2026-12-14T08:00:00+00:00", "2026-12-14T08:15:00+00:00"),
            ]
        ]
    }
    moved = js(library, "event", "edit", eid, "--start", "2026-12-07T10:00", "--title", "Daily")
    assert moved == {**added, "title": "Daily", "start": "2026-12-07T10:00:00", "end": "2026-12-07T10:15:00"}
    assert js(library, "event", "delete", eid) == {"id": eid, "deleted": True}
    assert js(library, "event", "list") == {"events": []}
    assert fails(library, "event", "show", eid) == f"localfirst: no event {eid!r}"


def test_a_bookable_calendar_books_as_the_window_does(library: Path) -> None:
    rooms = js(library, "calendar", "add", "Rooms", "--bookable")["id"]
    first = js(
        library, *("event", "add", "--title", "A", "--start", "2026-12-03T10:00", "--end", "2026-12-03T11:00")
    )
    assert first["calendar"] == rooms  # the only calendar
    assert (first["booking"], first["slot"]) == (
        "booked",
        ["2026-12-03T10:00:00+00:00", "2026-12-03T11:00:00+00:00"],
    )
    second = js(
        library, *("event", "add", "--title", "B", "--start", "2026-12-03T10:30", "--calendar", "Rooms")
    )
    assert (second["booking"], second["slot"]) == ("conflict", None)
    # Moving it to a free time books it again, through the same service as the window's.
    moved = js(library, "event", "edit", second["id"], "--start", "2026-12-03T11:00")
    assert (moved["booking"], moved["slot"]) == (
        "booked",
        ["2026-12-03T11:00:00+00:00", "2026-12-03T12:00:00+00:00"],
    )
    listed = js(library, "event", "list", "--from", "2026-12-03T00:00Z", "--to", "2026-12-04T00:00Z")
    assert [(e["title"], e["booking"]) for e in listed["events"]] == [("A", "booked"), ("B", "booked")]


def test_devices_and_rename(library: Path) -> None:
    me = js(library, "devices")["devices"][0]
    running = me["online"]
    assert js(library, "devices") == {
        "devices": [
            {
                "id": me["id"],
                "name": me["name"],
                "this": True,
                "revoked": False,
                "online": running,
                "last_seen": None,
            }
        ],
        "running": running,
    }
    assert js(library, "rename", "Study desk") == {"id": me["id"], "name": "Study desk"}
    assert js(library, "rename", me["id"][:8], "Desk") == {"id": me["id"], "name": "Desk"}
    assert js(library, "devices")["devices"][0]["name"] == "Desk"
    assert fails(library, "revoke", "Desk") == "localfirst: a device cannot revoke itself"
    assert fails(library, "revoke", "nobody") == "localfirst: no device 'nobody'"


def test_bad_input_is_one_line(library: Path) -> None:
    ids: list[str] = []
    while len({i[0] for i in ids}) == len(ids):  # until two notes share a first character
        ids.append(js(library, "note", "add", "--title", f"n{len(ids)}")["id"])
    first = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    assert re.fullmatch(
        rf"localfirst: the id prefix '{first}' is ambiguous \(\d+ notes\): give more of it",
        fails(library, "note", "show", first),
    )
    assert fails(library, "note", "delete", "zz") == "localfirst: no note 'zz'"
    js(library, "calendar", "add", "Work")
    bad_date = fails(library, "event", "add", "--title", "X", "--start", "tomorrow")
    assert bad_date == "localfirst: start: 'tomorrow' is not an ISO 8601 date or date-time"
    backwards = fails(
        library, "event", "add", "--title", "X", "--start", "2026-12-03T10:00", "--end", "2026-12-03T09:00"
    )
    assert backwards == "localfirst: the end must be after the start"
    assert fails(library, "event", "add", "--title", "X", "--start", "2026-12-03", "--calendar", "Home") == (
        "localfirst: no calendar 'Home'"
    )
    bad_rule = fails(library, "event", "add", "--title", "X", "--start", "2026-12-03", "--rrule", "sometimes")
    assert bad_rule == (
        "localfirst: 'sometimes' is not a recurrence rule this app expands (e.g. FREQ=WEEKLY;BYDAY=MO)"
    )
    assert fails(library, "resolve", ids[0], "title", "x") == f"localfirst: no entity in conflict {ids[0]!r}"
    usage = fails(library, "resolve", ids[0], "title", status=2)
    assert (
        usage
        == "localfirst: usage: resolve ID FIELD VALUE | resolve ID --keep-deleted | resolve ID --restore\n"
    )
    assert "invalid choice" in fails(library, "note", "frobnicate", status=2)


# -- two devices ---------------------------------------------------------------------------------


def _pair(tmp_path: Path) -> tuple[NodeProcess, Path]:
    """A node "desk" serving, and a stopped library "laptop" joined to it (not yet synced)."""
    desk = NodeProcess(tmp_path / "desk", "--no-discovery", name="desk")
    offer = desk.request(cmd="invite")
    laptop = tmp_path / "laptop"
    joined = cli(laptop, "join", offer["code"], "--peer", f"127.0.0.1:{offer['port']}", "--name", "laptop")
    assert joined.returncode == 0, joined.stderr
    return desk, laptop


def _serve(data: Path, desk: NodeProcess) -> NodeProcess:
    return NodeProcess(data, "--no-discovery", "--peer", f"127.0.0.1:{desk.port}", name="laptop")


def _titles(data: Path) -> list[str]:
    return sorted(n["title"] for n in js(data, "note", "list")["notes"])


def test_conflicts_made_by_two_devices_are_listed_and_resolved(tmp_path: Path) -> None:
    desk, laptop_data = _pair(tmp_path)
    laptop = None
    try:
        plan = js(desk.data, "note", "add", "--title", "Plan", "--tag", "x")["id"]
        gone = js(desk.data, "note", "add", "--title", "Old", "--body", "keep me")["id"]
        laptop = _serve(laptop_data, desk)
        wait_for(lambda: _titles(laptop_data) == ["Old", "Plan"], what="the laptop receives the notes")
        laptop.stop()
        laptop = None
        # Concurrent edits: the desk through its node, the laptop offline under its lock.
        js(desk.data, "note", "edit", plan, "--title", "Plan (desk)")
        js(desk.data, "note", "delete", gone)
        js(laptop_data, "note", "edit", plan, "--title", "Plan (laptop)")
        js(laptop_data, "note", "edit", gone, "--body", "keep me, edited")
        laptop = _serve(laptop_data, desk)

        def listed() -> list[dict[str, Any]]:
            return js(desk.data, "conflicts")["conflicts"]  # type: ignore[no-any-return]

        wait_for(lambda: len(listed()) == 2, what="both conflicts reach the desk")
        names = {d["id"]: d["name"] for d in js(desk.data, "devices")["devices"]}
        by_id = {c["id"]: c for c in listed()}
        siblings = by_id[plan]["fields"]["title"]
        assert sorted((s["value"], s["device_name"]) for s in siblings) == [
            ("Plan (desk)", "desk"),
            ("Plan (laptop)", "laptop"),
        ]
        assert all(names[s["device"]] == s["device_name"] and isinstance(s["stamp"], int) for s in siblings)
        assert by_id[plan] == {
            "id": plan,
            "kind": "note",
            "title": by_id[plan]["title"],
            "exists": True,
            "deleted_with_edits": False,
            "fields": {"title": siblings},
        }
        assert by_id[plan]["title"] in ("Plan (desk)", "Plan (laptop)")
        assert by_id[gone] == {
            "id": gone,
            "kind": "note",
            "title": "Old",
            "exists": True,
            "deleted_with_edits": True,
            "fields": {},
        }
        assert js(laptop_data, "conflicts") == {"conflicts": listed()}  # the same through the laptop's node

        wrong = fails(desk.data, "resolve", plan, "pinned", "yes")
        assert wrong == f"localfirst: {plan} has no conflict in field 'pinned'; fields in conflict: title"
        assert js(desk.data, "resolve", plan[:8], "title", "Plan") == {
            "id": plan,
            "field": "title",
            "value": "Plan",
            "keep": None,
            "exists": True,
            "conflicts": [],
        }
        assert js(desk.data, "resolve", gone, "--restore") == {
            "id": gone,
            "field": None,
            "value": None,
            "keep": "restore",
            "exists": True,
            "conflicts": [],
        }
        assert listed() == []
        wait_for(
            lambda: js(laptop_data, "conflicts") == {"conflicts": []}, what="the laptop sees them resolved"
        )
        # Kept with the edits, as the window's Keep does: the title the delete superseded is gone.
        assert _titles(laptop_data) == ["Plan", "keep me, edited"]
        assert js(laptop_data, "note", "show", gone)["body"] == "keep me, edited"
    finally:
        if laptop is not None:
            laptop.stop()
        desk.stop()


def _never(check: Any, seconds: float = 3.0) -> None:
    """``check()`` stays false for ``seconds`` (a write that must not arrive)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not check()
        time.sleep(0.2)


def test_revoke_from_the_cli_cuts_the_device_off_both_ways(tmp_path: Path) -> None:
    desk, laptop_data = _pair(tmp_path)
    laptop = _serve(laptop_data, desk)
    try:
        js(desk.data, "note", "add", "--title", "before")
        wait_for(lambda: _titles(laptop_data) == ["before"], what="the laptop syncs")
        peer = js(desk.data, "devices")["devices"][1]
        assert (peer["id"], peer["name"], peer["online"], peer["revoked"]) == (
            laptop.device,
            "laptop",
            True,
            False,
        )
        assert ISO_UTC.match(peer["last_seen"])
        assert js(desk.data, "revoke", "laptop") == {"id": laptop.device, "name": "laptop", "revoked": True}
        wait_for(
            lambda: (
                not desk.status()["peers"].get(laptop.device, {}).get("online")
                and not laptop.status()["peers"].get(desk.device, {}).get("online")
            ),
            what="the session between them closes",
        )
        devices = js(desk.data, "devices")["devices"]
        assert [(d["name"], d["revoked"], d["online"]) for d in devices] == [
            ("desk", False, True),
            ("laptop", True, False),
        ]
        js(desk.data, "note", "add", "--title", "desk only")
        js(laptop_data, "note", "add", "--title", "laptop only")
        _never(lambda: "desk only" in _titles(laptop_data) or "laptop only" in _titles(desk.data))
        assert _titles(desk.data) == ["before", "desk only"]
        assert _titles(laptop_data) == ["before", "laptop only"]
    finally:
        laptop.stop()
        desk.stop()
