# The application's image: every `orders` command, one process per container
# (docker-compose.yml runs each process of `orders run` as a service of its own).
# It installs as `make install` does: the exact versions of requirements.lock, then the
# project itself without resolving again (tests/unit/test_compose.py holds the two together).
# No HEALTHCHECK here: which probe fits depends on the command, so the compose file has one
# per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# The locked dependencies first, in a layer of their own that a change of code does not rebuild.
COPY requirements.lock ./
RUN pip install --quiet --upgrade pip \
    && pip install --quiet -r requirements.lock

COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY infrastructure/ infrastructure/
COPY projections/ projections/
COPY services/ services/
RUN pip install --quiet --no-deps .

# Not root: the processes need to write nothing but their output.
RUN useradd --create-home --uid 10001 --user-group orders
USER orders

ENTRYPOINT ["orders"]
CMD ["--help"]
