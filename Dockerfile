# logmetrics: tails LLM-serving logs, writes events as JSON lines, serves
# /metrics. Configured entirely by LOGMETRICS_* environment variables.
#   docker build -t logmetrics .
#   docker run --rm -v /var/log/ollama:/logs/ollama:ro -p 127.0.0.1:9464:9464 logmetrics
FROM python:3.11.16-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid so host directories and the shared events volume can be
# granted to it (promtail/alloy read the events as the same uid in compose).
RUN groupadd --system --gid 10001 logmetrics \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin logmetrics

WORKDIR /src
COPY pyproject.toml README.md ./
COPY logmetrics/ logmetrics/
COPY parsers/ parsers/
RUN pip install . && rm -rf /src

# Mount points, owned by the app user: an empty named volume mounted on one of
# them takes this ownership, so the container never needs root.
RUN mkdir -p /events /state /logs/demo /demo-logs \
 && chown logmetrics:logmetrics /events /state /logs/demo /demo-logs

ENV LOGMETRICS_PATHS="/logs/**/*.log" \
    LOGMETRICS_OUTPUT=/events/events.jsonl \
    LOGMETRICS_POSITIONS=/state/positions.json \
    LOGMETRICS_LISTEN=0.0.0.0:9464 \
    LOGMETRICS_START_AT=end

WORKDIR /
USER 10001:10001
EXPOSE 9464

# No curl in slim images: ask /healthz with the Python we already have, on the
# port LOGMETRICS_LISTEN names.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('LOGMETRICS_LISTEN', '0.0.0.0:9464').rsplit(':', 1)[1]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["logmetrics"]
CMD ["run"]
