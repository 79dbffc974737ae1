# DEERIn: index footage and chat with it. Used by docker-compose.yml (app + Ollama).
#
#   docker build -t deerin .
#
# Two stages: llama-cpp-python (a hard dependency, the offline LLM) compiles from source, so the
# compilers live in the build stage only; the runtime stage has Python, ffmpeg and the venv.

FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/deerin
ENV PATH=/opt/deerin/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the package is built from: the repository's .venv and .git stay out of the image.
COPY pyproject.toml README.md chainlit.md ./
COPY deerin deerin
COPY indexing indexing
COPY assistant assistant
COPY eval eval
COPY prompts prompts
# CPU-only torch (pulled in by sentence-transformers): the CUDA wheels are gigabytes this image
# never uses. Non-editable install, so the package data (chainlit.md, prompts) is copied in.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/deerin /opt/deerin
# The models DEERIn uses by default ship inside PyPI packages: nothing is fetched at run time.
# The index lives on a volume mounted at /data/index; Chainlit's working folder in /data/cache.
ENV PATH=/opt/deerin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DEERIN_DB=/data/index \
    XDG_CACHE_HOME=/data/cache
# A named volume mounted on /data/index starts as a copy of this folder, owner included, so
# the unprivileged user can write the index.
RUN useradd --create-home --uid 1000 deerin \
 && mkdir -p /data/index /data/cache \
 && chown -R deerin:deerin /data
USER deerin
WORKDIR /home/deerin
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
# Inside a container the server must listen on all interfaces to be reachable through the
# published port; `deerin chat` then insists on DEERIN_AUTH with a loud warning if it is unset.
CMD ["deerin", "chat", "--host", "0.0.0.0", "--port", "8000"]
