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


def test_compose_runs_two_web_processes_one_scheduler_with_health_checks_and_volumes():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"db", "redis", "migrate", "web", "web2", "scheduler"} <= set(services)
    # Every service that keeps state keeps it in a named volume.
    named = set(spec["volumes"])
    assert {"pgdata", "redisdata", "instance"} <= named
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]
    # Health checks: pg_isready, redis-cli ping, /readyz on each web process.
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    for name in ("web", "web2"):
        web = services[name]
        assert "/readyz" in " ".join(web["healthcheck"]["test"])
        assert web["command"][:2] == ["aware", "serve"]
        assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert web["depends_on"]["redis"]["condition"] == "service_healthy"
        # Only reachable through the TLS proxy on this host.
        assert all(p.startswith("127.0.0.1:") for p in web["ports"])
        assert web["environment"]["AWARE_REDIS_URL"].startswith("redis://redis:")
    assert services["db"]["healthcheck"] and services["migrate"]["depends_on"]["db"] == {
        "condition": "service_healthy"
    }
    # One scheduler, never inside the web processes.
    assert services["scheduler"]["command"] == ["aware", "scheduler"]
    assert "deploy" not in services["scheduler"] or (
        services["scheduler"]["deploy"].get("replicas", 1) == 1
    )
    # No secret has a default: compose refuses to start without them.
    env = services["web"]["environment"]
    assert "${AWARE_SECRET_KEY:?" in env["AWARE_SECRET_KEY"]
    assert "${POSTGRES_PASSWORD:?" in env["AWARE_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]


def test_the_image_runs_as_a_user_not_root():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "root"
