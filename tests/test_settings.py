"""Configuration comes from the environment, with safe embedded defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cms.env import database_config, env_bool, env_list
from search.backends import engine_family, redact_url, search_backends_setting

ROOT = Path(__file__).resolve().parent.parent


def test_no_search_url_means_the_database_backend():
    config = search_backends_setting("", "opensearch2", "tumen", 5)
    assert config["default"]["BACKEND"] == "wagtail.search.backends.database"


@pytest.mark.parametrize(
    "name, module",
    [
        ("opensearch2", "wagtail.search.backends.opensearch2"),
        ("elasticsearch7", "wagtail.search.backends.elasticsearch7"),
        ("elasticsearch8", "wagtail.search.backends.elasticsearch8"),
        ("elasticsearch9", "wagtail.search.backends.elasticsearch9"),
    ],
)
def test_search_backend_is_selectable(name, module):
    config = search_backends_setting("http://127.0.0.1:9200", name, "tumen", 5)["default"]
    assert config["BACKEND"] == module
    assert config["URLS"] == ["http://127.0.0.1:9200"]
    assert config["INDEX_PREFIX"] == "tumen_"


@pytest.mark.parametrize(
    "name, family",
    [("opensearch2", ("opensearch", 2)), ("elasticsearch7", ("elasticsearch", 7)), ("elasticsearch9", ("elasticsearch", 9))],
)
def test_engine_family_names_the_engine_and_major_version(name, family):
    assert engine_family(name) == family
def test_search_url_may_list_the_nodes_of_a_cluster():
    # The engine's client spreads requests over the nodes and retries a dead node's on another.
    urls = "http://127.0.0.1:9231, http://127.0.0.1:9232,http://127.0.0.1:9233,"
    config = search_backends_setting(urls, "opensearch2", "tumen", 5)["default"]
    assert config["URLS"] == ["http://127.0.0.1:9231", "http://127.0.0.1:9232", "http://127.0.0.1:9233"]
    with pytest.raises(ValueError, match="SEARCH_URL"):
        search_backends_setting("http://127.0.0.1:9231,127.0.0.1:9232", "opensearch2", "tumen", 5)
    with pytest.raises(ValueError, match="SEARCH_URL"):
        search_backends_setting(" , ", "opensearch2", "tumen", 5)


def test_unknown_search_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="elasticsearch8"):
        search_backends_setting("http://127.0.0.1:9200", "solr", "tumen", 5)


def test_search_url_must_be_http():
    with pytest.raises(ValueError, match="SEARCH_URL"):
        search_backends_setting("127.0.0.1:9200", "opensearch2", "tumen", 5)


def test_passwords_never_leave_the_search_url():
    assert redact_url("https://user:s3cret@search.internal:9243") == "https://user:***@search.internal:9243"
    assert "s3cret" not in redact_url("https://user:s3cret@search.internal")


def test_database_url_unset_means_sqlite_under_var(tmp_path):
    config = database_config("", tmp_path / "var" / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == tmp_path / "var" / "db.sqlite3"
    assert (tmp_path / "var").is_dir()


def test_database_url_selects_postgresql(tmp_path):
    config = database_config("postgres://u:p@db.internal:5433/tumen", tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "tumen")


def test_boolean_and_list_variables(monkeypatch):
    monkeypatch.setenv("X_FLAG", "false")
    monkeypatch.setenv("X_HOSTS", "a.gov.mn, b.gov.mn,")
    assert env_bool("X_FLAG", True) is False
    assert env_list("X_HOSTS", []) == ["a.gov.mn", "b.gov.mn"]
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG"):
        env_bool("X_FLAG", True)


def _manage(*args, **env):
    controlled = ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "TUMEN_TRUSTED_PROXIES", "TUMEN_SECRETS_KEYS")
    full_env = {k: v for k, v in os.environ.items() if k not in controlled}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy_without_warnings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="cms.settings.production",
        SECRET_KEY="k" * 10 + "Q7v2-x9_Lm4pZ8rT1yW6nB3cF5hJ0sD2gA8eK4uR7oI9",
        ALLOWED_HOSTS="services.example.mn",
        TUMEN_TRUSTED_PROXIES="1",
        TUMEN_SECRETS_KEYS="jv7WF-QhasOaKAXjdXp1w_J_x8KLLGFK1OsjX4mtyZ4=",
        TUMEN_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_the_development_secret_key(tmp_path):
    result = _manage(
        "check",
        DJANGO_SETTINGS_MODULE="cms.settings.production",
        ALLOWED_HOSTS="services.example.mn",
        TUMEN_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_models_and_migrations_agree(tmp_path):
    result = _manage("makemigrations", "--check", "--dry-run", TUMEN_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cluster_scripts_environment_passes_the_production_checks(tmp_path):
    # scripts/cluster.sh runs the app servers and workers with cms.settings.production: a check
    # added to production (tumen.E006, the secrets key) once stopped the cluster from starting.
    written = subprocess.run(
        ["scripts/cluster.sh", "env"], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "CLUSTER_DIR": str(tmp_path / "cluster")},
    )  # fmt: skip
    cluster_env = dict(line.split("=", 1) for line in written.stdout.splitlines() if line and not line.startswith("#"))
    assert cluster_env["DJANGO_SETTINGS_MODULE"] == "cms.settings.production"
    ours = {"DATABASE_URL", "SEARCH_URL", "SEARCH_INDEX", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    env = {name: value for name, value in os.environ.items() if name not in ours} | cluster_env
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
