# One image for every Mailroom process; docker-compose.yml picks the command.
# Stage 1 builds the browser app (frontend/dist) with the exact versions of package-lock.json.
FROM node:20-slim AS frontend
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./
# The generated API types come from openapi.yaml, committed beside frontend/.
COPY openapi.yaml /build/openapi.yaml
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY mailcore ./mailcore
COPY webmail ./webmail
COPY manage.py ./
COPY --from=frontend /build/frontend/dist ./frontend/dist
RUN pip install --no-cache-dir -e .
RUN useradd --system --uid 1000 mailroom && mkdir -p /data && chown mailroom /data
USER mailroom
