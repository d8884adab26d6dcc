"""The one settings class of the REST API: environment variables ``LATTE_*``, an optional settings file, defaults.

Precedence, highest first: keyword arguments (what ``latte serve`` flags pass), ``LATTE_*`` environment
variables, the settings file named by ``LATTE_SETTINGS_FILE`` (or the ``settings_file`` argument), defaults.
The file is picked by its suffix: ``.json`` and ``.toml`` hold field names (``index = "/data/index"``),
anything else is read as a dotenv file of ``LATTE_*`` lines.

>>> s = Settings(index="idx", api_keys="key-one-123, key-two-456")
>>> [k.get_secret_value() for k in s.api_keys], s.llm_backend, s.max_k
(['key-one-123', 'key-two-456'], 'none', 100)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    JsonConfigSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from api.page_worker import MIN_DPI as MIN_PAGE_DPI

ENV_PREFIX = "LATTE_"
SETTINGS_FILE_ENV = "LATTE_SETTINGS_FILE"
MiB = 1024 * 1024


def _split_list(value: Any) -> Any:
    """A list from a JSON array or a comma-separated string (how list settings arrive from the environment).

    >>> _split_list("a, b,,c"), _split_list('["x"]'), _split_list(["y"])
    (['a', 'b', 'c'], ['x'], ['y'])
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the API server reads at start-up (validated once; a bad value stops the server with a message)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, case_sensitive=False, populate_by_name=True
    )

    # -- index and models ---------------------------------------------------------------------------------------
    index: Path = Field(Path("index"), description="index folder (created by the first write when missing)")
    index_url: str | None = Field(
        None, description="an index on object storage (s3://bucket/prefix or any fsspec URL): this server is then a "
        "read replica that mirrors it into `index` (a local cache folder) and follows new versions; writes go "
        "through `latte ingest PATH --index URL`",
    )
    sync_interval: float = Field(2.0, gt=0, le=3600, description="seconds between checks of index_url for a new version")
    profile: str | None = Field(
        None, description="model profile for a NEW index (an existing index always uses the profile it was built with)"
    )
    device: str = Field("auto", description="auto | cpu | cuda[:n] for the query and document encoders")
    models_dir: Path | None = Field(None, description="folder of local models (exported as LATTE_MODELS_DIR)")
    torch_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads; 1 keeps query latency low under concurrent load or on a busy CPU"
    )
    colpali_model: str | None = Field(
        None,
        description="page-image model of the colpali profile (a folder or a hub id); default: the one the index "
        "recorded, else vidore/colpali-v1.3-hf",
    )

    # -- page images of PDF documents ---------------------------------------------------------------------------
    page_image_dpi: int = Field(96, ge=MIN_PAGE_DPI, description="resolution of a page image when the request gives none")
    page_image_max_dpi: int = Field(200, ge=72, le=600, description="highest resolution a request may ask for")
    page_image_max_pixels: int = Field(
        16_000_000, ge=100_000, description="pixel budget of one page image (a larger page is rendered at a lower dpi)"
    )
    page_cache_bytes: int = Field(32 * MiB, ge=0, description="memory for recently rendered page images (0: no cache)")
    page_render_workers: int = Field(1, ge=1, le=64, description="child processes rendering page images")
    page_render_timeout: float = Field(30.0, gt=0, description="seconds a page may take to render (then 504)")

    # -- server -------------------------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="address `latte serve` binds (0.0.0.0 in Docker)")
    port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS, comma-separated ('*' for any); empty: CORS off"
    )
    settings_file: Path | None = Field(None, description="settings file read at start-up (.env, .json or .toml)")

    # -- security -----------------------------------------------------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Bearer keys accepted by write endpoints, comma-separated"
    )
    require_key_for_reads: bool = Field(False, description="also require a key for search, answer and reads")
    allow_open_writes: bool = Field(False, description="allow writes without any key (only on a trusted network)")

    # -- limits -------------------------------------------------------------------------------------------------
    max_body_bytes: int = Field(16 * MiB, ge=1024, description="largest JSON request body")
    max_upload_bytes: int = Field(256 * MiB, ge=1024, description="largest multipart upload request")
    max_upload_files: int = Field(32, ge=1, description="most files in one upload request")
    max_batch_docs: int = Field(1000, ge=1, description="most documents in one POST /v1/documents")
    max_doc_chars: int = Field(5_000_000, ge=1, description="longest document text in POST /v1/documents")
    max_query_chars: int = Field(2000, ge=1, description="longest query or question")
    max_k: int = Field(100, ge=1, description="most hits per search")
    max_depth: int = Field(10_000, ge=1, description="most first-stage candidates per retriever")
    max_rerank_depth: int = Field(1000, ge=1, description="most candidates reranked by MaxSim")
    max_answer_tokens: int = Field(2048, ge=1, description="most tokens an answer may ask for")
    write_lock_timeout: float = Field(
        30.0, gt=0, description="seconds a write waits for another write (in this server or another process), then 409"
    )

    # -- answers and the LLM --------------------------------------------------------------------------------------
    llm_backend: Literal["none", "llamacpp", "openai"] = Field(
        "none", description="none: extractive answers; llamacpp: a GGUF in this process; openai: an HTTP server"
    )
    llm_model_path: Path | None = Field(None, description="GGUF file (llamacpp)")
    llm_n_ctx: int = Field(4096, ge=16, description="context window in tokens (llamacpp)")
    llm_threads: int | None = Field(None, ge=1, description="CPU threads for generation (llamacpp)")
    llm_gpu_layers: int = Field(0, ge=-1, description="layers offloaded to the GPU, -1 all (llamacpp)")
    llm_chat_format: str | None = Field(None, description="llama-cpp-python chat format instead of the GGUF template")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://llm:8080/v1 (openai)")
    llm_model: str = Field("local", description="model name sent to the server (openai)")
    llm_timeout: float = Field(60.0, gt=0, description="seconds without data before generation fails (openai)")
    llm_api_key: SecretStr | None = Field(None, description="key sent to the LLM server (openai)")
    llm_context_size: int | None = Field(None, ge=16, description="context window when the server cannot say (openai)")
    answer_max_tokens: int = Field(512, ge=1, description="default answer length in tokens")
    answer_temperature: float = Field(0.1, ge=0, le=2, description="default sampling temperature")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if len(key.get_secret_value()) < 8:
                raise ValueError("every API key must be at least 8 characters (e.g. `openssl rand -hex 32`)")
        return keys

    @field_validator("profile")
    @classmethod
    def _profile(cls, profile: str | None) -> str | None:
        if profile is None:
            return None
        from rag.profiles import UnknownProfile, get_profile

        try:
            get_profile(profile)
        except UnknownProfile as exc:  # a ValueError is what pydantic reports as a bad setting
            raise ValueError(str(exc)) from None
        return profile

    @model_validator(mode="after")
    def _page_dpi(self) -> Settings:
        if self.page_image_dpi > self.page_image_max_dpi:
            raise ValueError(
                f"LATTE_PAGE_IMAGE_DPI={self.page_image_dpi} is over LATTE_PAGE_IMAGE_MAX_DPI={self.page_image_max_dpi}; "
                "lower the first or raise the second"
            )
        return self

    @model_validator(mode="after")
    def _backend_needs(self) -> Settings:
        if self.llm_backend == "llamacpp" and self.llm_model_path is None:
            raise ValueError("llm_backend=llamacpp needs LATTE_LLM_MODEL_PATH (a GGUF file)")
        if self.llm_backend == "openai":
            if not self.llm_base_url:
                raise ValueError("llm_backend=openai needs LATTE_LLM_BASE_URL (e.g. http://llm:8080/v1)")
            if not self.llm_base_url.startswith(("http://", "https://")):
                raise ValueError(f"LATTE_LLM_BASE_URL must start with http:// or https://, got {self.llm_base_url!r}")
        return self

    @property
    def new_index_profile(self) -> str:
        """The profile a new index gets: the setting, or ``rag.profiles.DEFAULT_PROFILE`` (as the CLI does)."""
        from rag.profiles import DEFAULT_PROFILE

        return self.profile or DEFAULT_PROFILE

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        kwargs = getattr(init_settings, "init_kwargs", {}) or {}
        path = kwargs.get("settings_file") or os.environ.get(SETTINGS_FILE_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path:
            sources.append(settings_file_source(settings_cls, Path(path)))
        return tuple(sources)


def settings_file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    """The pydantic-settings source reading ``path`` (JSON, TOML, or a dotenv file of ``LATTE_*`` lines)."""
    if not path.is_file():
        raise ValueError(
            f"settings file {path} does not exist; fix {SETTINGS_FILE_ENV} (or --settings) or create the file"
        )
    suffix = path.suffix.lower()
    if suffix == ".json":
        return JsonConfigSettingsSource(settings_cls, json_file=path)
    if suffix == ".toml":
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    return DotEnvSettingsSource(settings_cls, env_file=path, env_prefix=ENV_PREFIX)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and settings file, with ``overrides`` (None values ignored) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
