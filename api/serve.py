"""``latte serve``: run the API with uvicorn. Arguments override ``LATTE_*`` variables and the settings file.

``python -m api.serve --index idx --port 8000`` does the same without the ``latte`` command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import UserError


def serve(
    index: str | Path | None = None,
    host: str | None = None,
    port: int | None = None,
    *,
    settings_file: str | Path | None = None,
    profile: str | None = None,
    device: str | None = None,
    log_level: str | None = None,
    **overrides: Any,
) -> None:
    """Validate the settings, build the app and serve it until interrupted (one process; models load once).

    Raises ``UserError`` with every invalid setting named when the settings do not validate."""
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.settings import load_settings
    from indexers.storage import is_url, mirror_dir

    if index is not None and is_url(index):  # a read replica of an index on object storage
        overrides["index_url"] = str(index)
        index = mirror_dir(str(index), f"reader-{port or 'default'}")  # one mirror per replica (port)
    try:
        settings = load_settings(
            index=index, host=host, port=port, settings_file=settings_file, profile=profile, device=device,
            log_level=log_level, **overrides,
        )
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()]
        raise UserError("invalid settings (LATTE_* variables, settings file or flags):\n" + "\n".join(lines)) from None
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m api.serve", description="Serve the latte REST API and web page.")
    p.add_argument("--index", "-i", help="index folder (LATTE_INDEX), or s3://bucket/prefix (a read replica)")
    p.add_argument("--host", help="bind address (LATTE_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (LATTE_PORT, default 8000)")
    p.add_argument("--settings", dest="settings_file", help="settings file: .env, .json or .toml (LATTE_SETTINGS_FILE)")
    p.add_argument("--profile", help="model profile for a new index (LATTE_PROFILE)")
    p.add_argument("--device", help="auto|cpu|cuda[:n] (LATTE_DEVICE)")
    p.add_argument("--log-level", help="critical|error|warning|info|debug (LATTE_LOG_LEVEL)")
    args = p.parse_args(argv)
    try:
        serve(**vars(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
