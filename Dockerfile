# One image for the API (serving the dashboard) and the voice worker:
#   docker run IMAGE api | worker | migrate | <any vocable command>
# deploy/compose.yaml runs the cluster from it; docs/self-hosting.md, "Containers".

# --- the dashboard: built with Node, only its dist/ is kept ----------------------------
FROM node:22.12.0-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
COPY web/ web/
# a workspace of the lockfile: npm ci wants every workspace's package.json present
COPY examples/customer/page/package.json examples/customer/page/package.json
RUN npm ci --no-audit --no-fund --loglevel=error \
 && npm run build -w @vocable/client -w @vocable/react -w @vocable/dashboard

# --- Python: the pinned runtime packages in a virtualenv -------------------------------
FROM python:3.11.11-slim-bookworm AS python
# llama-cpp-python has no wheel on the index: it is compiled here (a C/C++ toolchain and
# CMake), with the same portable CPU flags as scripts/bootstrap.sh
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements.lock deploy/test-only-packages.txt /tmp/
# every pin of the lock except the test and lint tools (deploy/test-only-packages.txt);
# --no-deps as in the bootstrap, then pip check proves nothing the runtime needs was dropped
RUN grep -v -i -E "^($(grep -v '^#' /tmp/test-only-packages.txt | paste -sd '|'))==" \
      /tmp/requirements.lock > /tmp/runtime.lock \
 && python -m venv /opt/vocable/venv \
 && /opt/vocable/venv/bin/pip install --progress-bar off --no-deps -r /tmp/runtime.lock \
 && /opt/vocable/venv/bin/pip check
COPY pyproject.toml README.md LICENSE /tmp/vocable/
COPY src/ /tmp/vocable/src/
RUN /opt/vocable/venv/bin/pip install --no-deps /tmp/vocable \
 && /opt/vocable/venv/bin/pip check

# --- runtime -------------------------------------------------------------------------
FROM python:3.11.11-slim-bookworm
# espeak-ng speaks the languages the packaged Piper voice cannot (run as a program);
# libgomp1 is the OpenMP runtime llama.cpp was built against
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/vocable vocable \
 && mkdir -p /var/lib/vocable /var/cache/vocable \
 && chown vocable:vocable /var/lib/vocable /var/cache/vocable
COPY --from=python /opt/vocable/venv /opt/vocable/venv
COPY --from=web /src/web/dashboard/dist /opt/vocable/dashboard
ENV PATH="/opt/vocable/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    VOCABLE_DATA_DIR=/var/lib/vocable \
    VOCABLE_CACHE_DIR=/var/cache/vocable \
    VOCABLE_DASHBOARD_DIR=/opt/vocable/dashboard \
    VOCABLE_API_HOST=0.0.0.0 \
    VOCABLE_API_PORT=8000
USER vocable
# the worker's language model, joined from its packages and verified once here, so no
# container spends a minute and a gigabyte of disk on it at start
RUN vocable models prepare
# the data directory (secrets.json, voices) is shared by every API and worker of one
# deployment: mount one volume there
VOLUME ["/var/lib/vocable"]
EXPOSE 8000
ENTRYPOINT ["vocable"]
CMD ["api"]
