"""One BaseSettings: LATTE_* environment, a settings file (.env, .json, .toml), keyword overrides, checks."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from api.settings import Settings, load_settings
from core.errors import UserError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("LATTE_") and name != "LATTE_MODELS_DIR":
            monkeypatch.delenv(name)


def test_environment_with_prefix_and_lists(monkeypatch):
    monkeypatch.setenv("LATTE_INDEX", "/srv/index")
    monkeypatch.setenv("LATTE_API_KEYS", "first-key-1, second-key-2")
    monkeypatch.setenv("LATTE_CORS_ORIGINS", '["http://a.example", "http://b.example"]')
    monkeypatch.setenv("LATTE_MAX_K", "25")
    monkeypatch.setenv("LATTE_ALLOW_OPEN_WRITES", "true")
    s = Settings()
    assert str(s.index) == "/srv/index" and s.max_k == 25 and s.allow_open_writes is True
    assert [k.get_secret_value() for k in s.api_keys] == ["first-key-1", "second-key-2"]
    assert s.cors_origins == ["http://a.example", "http://b.example"]
    assert "first-key-1" not in repr(s)  # secrets stay out of logs


@pytest.mark.parametrize(
    "name, content",
    [
        ("latte.env", "LATTE_MAX_K=7\nLATTE_INDEX=/from/file\n"),
        ("latte.json", json.dumps({"max_k": 7, "index": "/from/file"})),
        ("latte.toml", 'max_k = 7\nindex = "/from/file"\n'),
    ],
)
def test_settings_file_by_suffix(tmp_path, monkeypatch, name, content):
    path = tmp_path / name
    path.write_text(content)
    monkeypatch.setenv("LATTE_SETTINGS_FILE", str(path))
    s = Settings()
    assert s.max_k == 7 and str(s.index) == "/from/file"
    monkeypatch.setenv("LATTE_MAX_K", "9")  # the environment wins over the file
    assert Settings().max_k == 9
    assert load_settings(max_k=11, index=None).max_k == 11  # and arguments win over both; None means "not given"
    assert str(load_settings(index=None).index) == "/from/file"


def test_settings_file_as_argument_and_missing_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("max_depth = 50\n")
    assert Settings(settings_file=path).max_depth == 50
    with pytest.raises(ValueError, match="does not exist"):
        Settings(settings_file=tmp_path / "nope.toml")


def test_invalid_values_say_what_is_wrong(tmp_path):
    with pytest.raises(ValidationError, match="LATTE_LLM_MODEL_PATH"):
        Settings(llm_backend="llamacpp")
    with pytest.raises(ValidationError, match="LATTE_LLM_BASE_URL"):
        Settings(llm_backend="openai")
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(llm_backend="openai", llm_base_url="llm:8080")
    with pytest.raises(ValidationError, match="unknown profile"):
        Settings(profile="bm52")
    with pytest.raises(ValidationError, match="Extra inputs"):
        Settings(settings_file=_json(tmp_path, {"max_kk": 3}))
    with pytest.raises(ValidationError):
        Settings(max_body_bytes=10)


def _json(tmp_path, data):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data))
    return p


def test_serve_reports_every_bad_setting(monkeypatch):
    from api.serve import serve

    monkeypatch.setenv("LATTE_MAX_K", "zero")
    with pytest.raises(UserError) as err:
        serve(index="idx", port=99999)
    text = str(err.value)
    assert "max_k" in text and "port" in text and text.startswith("invalid settings")


def test_every_setting_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    missing = [f"LATTE_{name.upper()}" for name in Settings.model_fields if f"`LATTE_{name.upper()}`" not in doc]
    assert missing == [], f"docs/deployment.md does not describe {missing}"


def test_page_image_and_colpali_settings(monkeypatch):
    monkeypatch.setenv("LATTE_COLPALI_MODEL", "/models/colpali-v1.3")
    monkeypatch.setenv("LATTE_PAGE_IMAGE_MAX_DPI", "150")
    s = Settings()
    assert s.colpali_model == "/models/colpali-v1.3" and s.page_image_max_dpi == 150 and s.page_image_dpi == 96
    with pytest.raises(ValidationError, match="LATTE_PAGE_IMAGE_MAX_DPI"):
        Settings(page_image_dpi=120, page_image_max_dpi=100)
    with pytest.raises(ValidationError):
        Settings(page_image_dpi=20)  # under the lowest resolution a page may be asked at
    with pytest.raises(ValidationError):
        Settings(page_render_workers=0)
