# signal-opt retiming service: `docker build -t signal-opt .`
#   docker run -p 8000:8000 -v signal-opt-data:/app/var signal-opt
#   docker exec <container> signal-opt keys create --role admin     # the first API key
# Storage defaults to SQLite in the /app/var volume; set SIGNAL_OPT_DATABASE_URL to a
# postgresql:// URL to use PostgreSQL instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies and package from the project's own metadata (pyproject.toml).
COPY pyproject.toml README.md ./
COPY signal_opt ./signal_opt
RUN pip install ".[postgres]"

COPY networks ./networks
COPY configs ./configs

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin signalopt \
    && mkdir -p /app/var \
    && chown signalopt /app/var
USER signalopt

ENV SIGNAL_OPT_NETWORKS_DIR=/app/networks \
    SIGNAL_OPT_DATABASE_URL=sqlite:////app/var/signal-opt.db \
    SIGNAL_OPT_HOST=0.0.0.0 \
    SIGNAL_OPT_PORT=8000

VOLUME ["/app/var"]
EXPOSE 8000

# No curl in the slim image: the health probe is a line of Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SIGNAL_OPT_PORT', '8000') + '/healthz', timeout=4)"]

CMD ["signal-opt", "serve", "--host", "0.0.0.0"]
