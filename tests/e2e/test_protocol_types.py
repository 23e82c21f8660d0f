"""The frontend's TypeScript protocol types are generated from the kernel protocol's schema:
``web/src/protocol.generated.ts`` must equal a fresh generation (``npm run gen-types``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle import protocol

WEB = Path(__file__).resolve().parents[2] / "web"
GENERATED = WEB / "src" / "protocol.generated.ts"


def test_generated_protocol_types_are_current(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to generate the frontend's protocol types")
    schema = tmp_path / "schema.json"
    fresh = subprocess.run(
        [sys.executable, "-m", "lifecycle.protocol", "--schema"], capture_output=True, text=True, check=True
    ).stdout
    schema.write_text(fresh)
    generated = subprocess.run(
        [node, str(WEB / "scripts" / "gen-protocol-types.mjs"), "--schema", str(schema), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert GENERATED.read_text() == generated, (
        "web/src/protocol.generated.ts is out of date: run `npm run gen-types` in web/"
    )


def test_generated_types_name_every_message() -> None:
    text = GENERATED.read_text()
    for tag in [*protocol.COMMAND_TYPES, *protocol.NOTIFICATION_TYPES]:
        assert f'type: "{tag}";' in text, tag
    assert f"PROTOCOL_VERSION = {protocol.PROTOCOL_VERSION};" in text
    schema = protocol.json_schema()
    assert json.dumps(schema)  # the schema the generator reads is plain JSON
