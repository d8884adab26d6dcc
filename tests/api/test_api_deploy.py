"""Deployment files: the compose file (services, ports, volumes, LATTE_* variables the settings really read),
the Dockerfile, and the image's entrypoint command run outside Docker against a tmp index."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from api_live import build_index, make_rows

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def resolve(value: object) -> str:
    """A compose value with ``${VAR:-default}`` replaced by its default (what an empty environment gives)."""
    return _DEFAULT.sub(lambda m: m.group(2) or "", str(value))


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="reading docker-compose.yml needs PyYAML: pip install pyyaml")
    return yaml.safe_load(COMPOSE.read_text())


def setting_names() -> set[str]:
    from api.settings import ENV_PREFIX, SETTINGS_FILE_ENV, Settings

    return {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {SETTINGS_FILE_ENV}


def test_every_latte_variable_in_the_deployment_files_is_a_setting():
    known = setting_names()
    for path in (COMPOSE, DOCKERFILE):
        used = set(re.findall(r"\bLATTE_[A-Z0-9_]+\b", path.read_text()))
        assert used, path
        assert used <= known, f"{path.name} uses variables no setting reads: {sorted(used - known)}"


def test_compose_services_ports_volumes_and_wiring(compose):
    services = compose["services"]
    assert {"api", "llm", "llm-gpu"} <= set(services)
    assert all(svc.get("profiles") == ["cluster"] for name, svc in services.items() if name not in ("api", "llm", "llm-gpu"))
    api = services["api"]
    env = {k: resolve(v) for k, v in api["environment"].items()}
    # the settings class accepts the environment as compose gives it
    from api.settings import Settings

    keys = {k[len("LATTE_"):].lower(): v for k, v in env.items()}
    settings = Settings(**{k: v for k, v in keys.items() if v != ""})
    assert settings.llm_backend == "openai" and settings.host == "0.0.0.0"
    # the LLM URL points at the llm service, on the port its server listens on
    url = urlparse(settings.llm_base_url)
    assert url.hostname in services and url.hostname == "llm"
    llm_cmd = [resolve(a) for a in services["llm"]["command"]]
    assert llm_cmd[llm_cmd.index("--port") + 1] == str(url.port) and llm_cmd[llm_cmd.index("--host") + 1] == "0.0.0.0"
    assert llm_cmd[llm_cmd.index("-m") + 1].startswith("/models/")
    # the published port reaches the port the API binds; the healthcheck asks /healthz on it
    container_port = resolve(api["ports"][0]).rsplit(":", 1)[1]
    assert container_port == str(settings.port) == "8000"
    assert "/healthz" in " ".join(api["healthcheck"]["test"]) and f":{settings.port}/" in " ".join(api["healthcheck"]["test"])
    # the index lies on a named volume declared at the top level
    volume, mount = api["volumes"][0].split(":")[:2]
    assert volume in compose["volumes"] and Path(settings.index).is_relative_to(mount)
    # models for the LLM on a volume, read-only
    assert any(resolve(v).endswith(":/models:ro") for v in services["llm"]["volumes"])
    assert services["llm"]["image"] == "ghcr.io/ggml-org/llama.cpp:server"


def test_compose_gpu_profile(compose):
    gpu = compose["services"]["llm-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["image"] == "ghcr.io/ggml-org/llama.cpp:server-cuda"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "-ngl" in gpu["command"]
    assert "profiles" not in compose["services"]["llm"]  # the CPU server starts by default


def test_compose_cluster_profile(compose):
    """Profile "cluster": 2 API read replicas of one index on object storage behind one nginx entry point, a Ray
    head (and workers) for `latte ingest --ray`, MinIO with the bucket the replicas read."""
    from api.settings import Settings

    services = compose["services"]
    replicas = [n for n in services if n.startswith("api-replica-")]
    assert len(replicas) == 2
    urls = set()
    for name in replicas:
        env = {k: resolve(v) for k, v in services[name]["environment"].items()}
        settings = Settings(**{k[len("LATTE_"):].lower(): v for k, v in env.items() if k.startswith("LATTE_") and v != ""})
        assert settings.index_url and settings.host == "0.0.0.0" and settings.port == 8000
        assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and Path(settings.index).is_relative_to("/data")
        urls.add(settings.index_url)
    assert len(urls) == 1  # both follow one index
    bucket = urlparse(urls.pop()).hostname
    assert f"s3/{bucket}" in " ".join(services["minio-bucket"]["entrypoint"])
    conf = (ROOT / "docker" / "nginx-cluster.conf").read_text()
    assert all(f"server {name}:8000" in conf for name in replicas)
    gateway = services["gateway"]
    assert resolve(gateway["ports"][0]).rsplit(":", 1)[1] == "8080" and "listen 8080;" in conf
    assert any("nginx-cluster.conf" in v for v in gateway["volumes"])
    head, worker = services["ray-head"], services["ray-worker"]
    assert head["entrypoint"][:3] == ["ray", "start", "--head"] and "6379" in head["entrypoint"]
    assert "ray-head:6379" in worker["entrypoint"]
    assert resolve(head["build"]["args"]["EXTRAS"]) == "ray,s3"


def test_compose_config_with_the_docker_client():
    """``docker compose config`` (or the v1 ``docker-compose``) validates the file; no engine is needed."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cmd in candidates:
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode != 0:
            continue
        out = subprocess.run([*cmd, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert "http://llm:8080/v1" in out.stdout and "latte-index" in out.stdout
        cluster = subprocess.run([*cmd, "-f", str(COMPOSE), "--profile", "cluster", "config"], capture_output=True,
                                 text=True, timeout=120, cwd=ROOT)
        assert cluster.returncode == 0, cluster.stderr
        assert "api-replica-2" in cluster.stdout and "s3://latte/index" in cluster.stdout
        return
    pytest.skip("no docker compose client here (docker compose plugin or docker-compose); the YAML checks still ran")


def test_dockerfile():
    text = DOCKERFILE.read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text and "FROM ${PYTHON_IMAGE}" in text
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text
    torch_line = text.index('pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"')
    assert torch_line < text.index("pip install -c constraints.txt")  # torch first, then everything constrained
    pinned = (ROOT / "constraints.txt").read_text()
    version = re.search(r"ARG TORCH_VERSION=(\S+)", text).group(1)
    assert f"torch=={version}" in pinned
    assert 'ENTRYPOINT ["latte", "serve"]' in text and "/healthz" in text and "USER latte" in text
    for src in re.findall(r"^COPY (\S+) \./", text, re.MULTILINE):
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repository"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command() -> list[str]:
    """``latte serve`` when the CLI has it; else the same function through ``python -m api.serve``."""
    latte = shutil.which("latte") or str(Path(sys.executable).parent / "latte")
    probe = subprocess.run([latte, "serve", "--help"], capture_output=True, text=True, timeout=120)
    if probe.returncode == 0:
        return [latte, "serve"]
    return [sys.executable, "-m", "api.serve"]


def test_the_entrypoint_serves_an_index_outside_docker(tmp_path):
    """The image's command with the image's environment (LATTE_INDEX, LATTE_HOST, LATTE_PORT): /healthz, /readyz,
    a search, then a clean exit on SIGTERM."""
    index = build_index(tmp_path / "e", make_rows(10))
    port = _free_port()
    env = {**os.environ, "LATTE_INDEX": str(index), "LATTE_HOST": "127.0.0.1", "LATTE_PORT": str(port), "LATTE_LOG_LEVEL": "warning",
           "LATTE_TORCH_THREADS": "1"}
    cmd = serve_command()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(url + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health is not None and health.status_code == 200, proc.stdout.read() if proc.poll() is not None else cmd
        while httpx.get(url + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = httpx.post(url + "/v1/search", json={"query": "document"}, timeout=30)
        assert r.status_code == 200 and r.json()["version"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    output = proc.stdout.read()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how it ended
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output


def test_bad_settings_stop_the_command_with_a_message(tmp_path):
    env = {**os.environ, "LATTE_LLM_BACKEND": "llamacpp", "LATTE_MAX_K": "many"}
    out = subprocess.run([*serve_command(), "--index", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "max_k" in out.stderr and "Traceback" not in out.stderr
