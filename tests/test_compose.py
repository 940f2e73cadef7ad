"""docker-compose.yml: valid YAML, and its object-store profile wired to the settings' variables."""

import yaml

from .data import REPO_ROOT


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_the_object_store_profile_starts_an_s3_compatible_store_and_creates_its_bucket():
    services = _compose()["services"]
    assert services["minio"]["profiles"] == ["objectstore"]
    assert services["minio-bucket"]["profiles"] == ["objectstore"]
    assert "mb" in services["minio-bucket"]["entrypoint"]
    assert "objects:/data" in services["minio"]["volumes"]


def test_every_app_service_can_be_switched_to_the_object_store():
    services = _compose()["services"]
    assert "beat" not in services  # every worker runs the periodic sweep
    for name in ("migrate", "web", "worker"):
        env = services[name]["environment"]
        assert env["ECG_STORAGE"] == "${ECG_STORAGE:-local}", name
        assert env["AWS_S3_ENDPOINT_URL"].endswith("http://minio:9000}"), name
        assert {"AWS_STORAGE_BUCKET_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env), name


def test_the_web_port_is_reached_through_the_proxy_only_and_its_address_is_the_clients():
    web = _compose()["services"]["web"]
    published = web["ports"][0].split("}")[0]
    assert published == "${WEB_PUBLISH:-127.0.0.1:8000", "bound to every interface a client could pass the proxy by"
    # behind the one TLS proxy the README asks for, lockouts and the audit read the address it saw
    assert web["environment"]["ECG_TRUSTED_PROXIES"] == "${ECG_TRUSTED_PROXIES:-1}"


def test_the_web_and_the_workers_know_the_sites_address():
    # workers write the webhook notices' links at SITE_URL; the production recipe in the README sets it
    services = _compose()["services"]
    for name in ("web", "worker"):
        assert services[name]["environment"]["SITE_URL"] == "${SITE_URL:-}", name


def test_the_clinics_time_zone_reaches_every_app_service():
    """``TIME_ZONE=Europe/Berlin docker compose up`` had run in UTC: a file's start stated without an offset was then
    read as a time in UTC, an hour or two off the moment it named (FHIR's effective times, the API's recorded_at),
    and the pages' times were UTC's. The web process reads the files' starts, the workers write webhook notices'
    times and run the sweep, the migration registers models: one zone for all."""
    services = _compose()["services"]
    for name in ("migrate", "web", "worker"):
        assert services[name]["environment"]["TIME_ZONE"] == "${TIME_ZONE:-UTC}", name
