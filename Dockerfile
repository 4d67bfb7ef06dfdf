# One image for every Mailroom process; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY mailcore ./mailcore
COPY webmail ./webmail
COPY frontend ./frontend
COPY manage.py ./
RUN pip install --no-cache-dir -e .
RUN useradd --system --uid 1000 mailroom && mkdir -p /data && chown mailroom /data
USER mailroom
