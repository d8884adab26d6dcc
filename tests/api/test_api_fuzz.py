"""Schemathesis fuzzes every operation of the OpenAPI schema against a live server (writes included, with a
key): no 5xx, whatever the input, including what no JSON schema describes: non-finite numbers and lone surrogates
(``fuzz_hooks.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from api_live import KEY, build_index, live_server, make_rows


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(tmp_path):
    pytest.importorskip("schemathesis", reason="fuzzing needs schemathesis: pip install schemathesis")
    from fuzz_hooks import NON_FINITE, SURROGATES

    exe = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    from api.settings import Settings

    index = build_index(tmp_path / "f", make_rows(30))
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks",
           "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)}
    with live_server(Settings(index=index, api_keys=[KEY], max_upload_bytes=1 << 20)) as live:
        out = subprocess.run(
            [
                exe, "run", live.url + "/openapi.json",
                "--checks", "not_a_server_error",
                "--max-examples", "30",
                "--workers", "1",
                "--seed", "20240521",
                "--request-timeout", "60",
                "-H", f"Authorization: Bearer {KEY}",
                "--no-color",
                "--report", "har", "--report-har-path", str(tmp_path / "requests.har"),
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
        )
    tail = out.stdout[-4000:] + out.stderr[-2000:]
    assert out.returncode == 0, tail
    assert "Tested: 11" in out.stdout and " passed" in out.stdout, tail  # 11 operations, page images included
    sent = (tmp_path / "requests.har").read_text(encoding="utf-8", errors="replace")
    # the hooks' inputs were sent: lone surrogates (as JSON escapes) and non-finite numbers
    assert any(json.dumps(s)[1:7] in sent.replace("\\\\", "\\") for s in SURROGATES), "no lone surrogate was sent"
    assert any(n in sent for n in NON_FINITE), "no non-finite number was sent"
