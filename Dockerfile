FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --home-dir /var/lib/aware --create-home aware
# Never root: the service holds victims' whereabouts.
USER aware
ENV AWARE_INSTANCE_PATH=/var/lib/aware
EXPOSE 5000
# Health checks are declared per service in docker-compose.yml (the scheduler has no HTTP).
CMD ["aware", "serve", "--host", "0.0.0.0", "--port", "5000"]
