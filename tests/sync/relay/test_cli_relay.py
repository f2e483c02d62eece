"""``localfirst relay add|list|remove`` and the relay part of ``status``, run as a user would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.sync.nodes import NodeProcess, run_cli, wait_for
from tests.sync.relay.conftest import Seaweed

SECRET = "do-not-print-this-secret"


def test_relay_commands_check_addresses_and_never_print_or_store_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "dev"
    bad = run_cli(data, "relay", "add", "ftp://x")
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "localfirst: not a relay address: 'ftp://x' (use s3://BUCKET/PREFIX or folder:PATH)"
    )
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    nokeys = run_cli(data, "relay", "add", "s3://bucket/lib", "--endpoint", "http://127.0.0.1:9")
    assert nokeys.returncode == 1
    assert "no S3 credentials: set AWS_ACCESS_KEY_ID" in nokeys.stderr
    assert len(nokeys.stderr.strip().splitlines()) == 1
    creds = tmp_path / "creds"
    creds.write_text(f"AWS_ACCESS_KEY_ID=key\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    creds.chmod(0o644)
    loose = run_cli(data, "relay", "add", "s3://bucket/lib", "--credentials", str(creds))
    assert loose.returncode == 1
    assert loose.stderr.strip() == f"localfirst: {creds} is readable by others: chmod 600 it first"
    creds.chmod(0o600)
    added = run_cli(data, "relay", "add", "s3://bucket/lib", "--credentials", str(creds))
    assert added.returncode == 0, added.stderr
    env = {"AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": SECRET}
    with_env = run_cli(data, "relay", "add", "s3://bucket/other", "--endpoint", "http://h:1", env=env)
    assert with_env.returncode == 0, with_env.stderr
    folder = run_cli(data, "relay", "add", f"folder:{tmp_path / 'Sync'}")
    assert folder.returncode == 0, folder.stderr
    again = run_cli(data, "relay", "add", f"folder:{tmp_path / 'Sync'}")
    assert again.returncode == 1
    assert "configured already" in again.stderr
    listed = run_cli(data, "relay", "list", "--json")
    shown = json.loads(listed.stdout)
    assert [r["address"] for r in shown] == [
        "s3://bucket/lib",
        "s3://bucket/other",
        f"folder:{tmp_path / 'Sync'}",
    ]
    assert shown[0]["credentials"] == str(creds)
    removed = run_cli(data, "relay", "remove", "s3://bucket/other")
    assert removed.returncode == 0
    assert len(json.loads(run_cli(data, "relay", "list", "--json").stdout)) == 2
    gone = run_cli(data, "relay", "remove", "s3://bucket/other")
    assert gone.returncode == 1
    assert gone.stderr.strip() == "localfirst: no relay s3://bucket/other (see: localfirst relay list)"
    config = data / "relays.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    every_output = "".join(
        p.stdout + p.stderr for p in (bad, nokeys, loose, added, with_env, folder, again, listed, removed)
    )
    assert SECRET not in every_output
    assert SECRET not in config.read_text()


def test_status_of_a_running_node_shows_each_relay(tmp_path: Path, s3_env: Seaweed) -> None:
    data = tmp_path / "dev"
    assert run_cli(data, "init").returncode == 0
    assert run_cli(data, "relay", "add", s3_env.new_relay(), "--endpoint", s3_env.endpoint).returncode == 0
    assert run_cli(data, "relay", "add", f"folder:{tmp_path / 'Sync'}").returncode == 0
    assert os.environ["AWS_SECRET_ACCESS_KEY"]  # the node reads its credentials from here
    node = NodeProcess(data, name="dev")
    try:
        assert run_cli(data, "note", "add", "--title", "hello").returncode == 0

        def relays_done() -> list[dict[str, object]] | None:
            relays: list[dict[str, object]] = node.status()["relays"]
            ok = len(relays) == 2 and all(r["reachable"] and r.get("last_upload") for r in relays)
            return relays if ok else None

        relays = wait_for(relays_done, 60, "both relays uploaded")
        assert relays is not None
        assert {r["error"] for r in relays} == {None}
        assert all(int(str(r["bytes"])) > 0 for r in relays)
        text = run_cli(data, "status")
        assert text.returncode == 0
        lines = text.stdout.splitlines()
        at = lines.index("relays")
        assert lines[at + 1].startswith(f"  {relays[0]['address']}  reachable; last upload ")
        assert lines[at + 2].startswith(f"  folder:{tmp_path / 'Sync'}  reachable; last upload ")
        # One more relay added while the node runs is picked up without a restart.
        third = tmp_path / "Sync2"
        assert run_cli(data, "relay", "add", f"folder:{third}").returncode == 0
        wait_for(lambda: len(node.status()["relays"]) == 3, 30, "the node uses the new relay")
        wait_for(lambda: any(p.is_file() for p in third.rglob("*")), 30, "segments in the new folder")
    finally:
        err = node.stop()
    assert "Traceback" not in err
    assert "relaytestsecret" not in err
