"""Schemathesis fuzzes every operation of the OpenAPI schema against a live server (writes included, with a
key): no 5xx, whatever the input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api_live import KEY, build_index, live_server, make_rows


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(tmp_path):
    pytest.importorskip("schemathesis", reason="fuzzing needs schemathesis: pip install schemathesis")
    exe = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    from api.settings import Settings

    index = build_index(tmp_path / "f", make_rows(30))
    with live_server(Settings(index=index, api_keys=[KEY], max_upload_bytes=1 << 20)) as live:
        out = subprocess.run(
            [
                exe, "run", live.url + "/openapi.json",
                "--checks", "not_a_server_error",
                "--max-examples", "15",
                "--workers", "1",
                "--seed", "20240521",
                "--request-timeout", "60",
                "-H", f"Authorization: Bearer {KEY}",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
    tail = out.stdout[-4000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert "Tested: 11" in out.stdout and " passed" in out.stdout, tail  # 11 operations, page images included
