# syntax=docker/dockerfile:1
# The latte API image: `latte serve` on port 8000, the index on the /data volume.
#
# CPU (default):  docker build -t latte .
# GPU (CUDA torch wheels; run with the NVIDIA container toolkit and LATTE_DEVICE=cuda):
#   docker build -t latte:cuda --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 --build-arg EXTRAS=triton .
# See docs/deployment.md.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

# torch comes from the PyTorch index (CPU wheels unless TORCH_INDEX says otherwise), pinned as in constraints.txt
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# optional extras of the latte package, comma-separated (triton, lancedb, ...)
ARG EXTRAS=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# 1. torch first, alone, so the layer is cached across source changes
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

# 2. latte and its dependencies; the constraints file keeps torch at the version installed above
COPY pyproject.toml constraints.txt README.md ./
COPY core ./core
COPY rag ./rag
COPY indexers ./indexers
COPY rerank ./rerank
COPY evals ./evals
COPY api ./api
RUN pip install -c constraints.txt --extra-index-url "${TORCH_INDEX}" ".${EXTRAS:+[${EXTRAS}]}" \
 && python -c "import torch, api.app, rag.cli; print('torch', torch.__version__)"

# an unprivileged user owns the index volume
RUN useradd --create-home --uid 10001 latte && mkdir -p /data && chown latte:latte /data
USER latte

ENV LATTE_INDEX=/data/index \
    LATTE_HOST=0.0.0.0 \
    LATTE_PORT=8000
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1

ENTRYPOINT ["latte", "serve"]
