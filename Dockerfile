# reconcile in a container: `docker build -t reconcile .` from the repository root.
#   docker run --rm -e RECONCILE_BASE_URL=... reconcile drift /manifests
#   docker run -p 9464:9464 ... reconcile watch /manifests
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Inside a container the loopback default is unreachable from probes and Prometheus.
    RECONCILE_LISTEN=0.0.0.0:9464

WORKDIR /src
COPY pyproject.toml README.md ./
COPY reconcile ./reconcile
RUN pip install . && rm -rf /src

RUN groupadd --system --gid 10001 reconcile \
    && useradd --system --uid 10001 --gid reconcile --home-dir /home/reconcile \
       --create-home --shell /usr/sbin/nologin reconcile
USER 10001:10001
WORKDIR /home/reconcile

EXPOSE 9464
ENTRYPOINT ["reconcile"]
CMD ["--help"]
