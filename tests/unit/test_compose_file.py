"""docker-compose.yml is for users (no Docker engine here): check that it parses and wires up."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_parses_and_points_the_service_at_postgres_and_redis():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"db", "redis", "migrate", "web"} <= set(services)
    env = services["web"]["environment"]
    assert env["AWARE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["AWARE_REDIS_URL"].startswith("redis://")
    assert env["AWARE_ENV"] == "production"
    assert services["web"]["command"][:2] == ["aware", "serve"]
    assert services["migrate"]["command"] == ["aware", "db", "upgrade"]
    assert (ROOT / "Dockerfile").exists()
