"""Issue 13, platform: precomputed statistics (finding 8), deploy checks, private uploads outside
MEDIA_ROOT, and a /healthz that tells anonymous callers only what a load balancer needs."""

import datetime
import os
import statistics as pystats
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from form_builder.models import Status, Submission, SubmissionEvent, new_tracking_code
from service_pages.models import ServicePage
from tests.test_forms import answers, post_api

ROOT = Path(__file__).resolve().parent.parent

# -- statistics (finding 8) ------------------------------------------------------------------------


@pytest.fixture
def completed_factory(client, demo_catalog, settings, tmp_path):
    """Makes ``n`` completed applications of a few services, ``days`` apart from submission to
    completion, by copying one real submission (fast enough for hundreds)."""
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    services = list(ServicePage.objects.live().canonical().filter(channel_online=True, stages=1).exclude(processing_days=0)[:3])
    template = Submission.objects.get(tracking_code=post_api(client, services[0].code, answers()).json()["tracking_code"])
    now = timezone.now()

    def make(n):
        rows = []
        for index in range(n):
            service = services[index % len(services)]
            rows.append(
                Submission(
                    tracking_code=new_tracking_code(), service=service, service_code=service.code, service_title=service.title,
                    agency=service.agency, form_version=template.form_version, data=template.data, status=Status.COMPLETED,
                    submitted_at=now - datetime.timedelta(days=1 + (index * 7) % 23, hours=index % 5),
                )  # fmt: skip
            )
        created = Submission.objects.bulk_create(rows)
        SubmissionEvent.objects.bulk_create(
            SubmissionEvent(submission=row, status=Status.COMPLETED, created_at=now - datetime.timedelta(hours=index % 3))
            for index, row in enumerate(created)
        )
        return created

    return make


def direct_figures(group_key):
    """The figures computed the plain way, in Python, from every completed submission."""
    groups = {}
    for submission in Submission.objects.filter(status=Status.COMPLETED).select_related("service", "agency"):
        done = submission.events.filter(status=Status.COMPLETED).order_by("created_at").first()
        if done is None:
            continue
        days = (done.created_at - submission.submitted_at).total_seconds() / 86400
        promise = submission.service.processing_days if submission.service else None
        groups.setdefault(group_key(submission), []).append((days, promise))
    result = {}
    for key, items in groups.items():
        days = sorted(d for d, _p in items)
        promised = [(d, p) for d, p in items if p]
        result[key] = {
            "count": len(days),
            "median_days": round(pystats.median(days), 3),
            "p90_days": round(days[-(-9 * len(days) // 10) - 1], 3),  # nearest rank: the ceil(0.9 n)-th
            "within_promise": round(sum(1 for d, p in promised if d <= p) / len(promised), 3) if promised else None,
        }
    return result


def shown(rows):
    return {
        row["key"]: {
            "count": row["count"],
            "median_days": round(row["median_days"], 3),
            "p90_days": round(row["p90_days"], 3),
            "within_promise": None if row["within_promise"] is None else round(row["within_promise"], 3),
        }
        for row in rows
    }


def queries_for(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content[:500]
    return len(queries), response


def test_statistics_page_reads_a_snapshot_with_bounded_queries(client, completed_factory):
    completed_factory(10)
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    few, _ = queries_for(client, "/en/statistics/")
    few_api, _ = queries_for(client, "/api/v1/statistics")
    completed_factory(190)
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    many, page = queries_for(client, "/en/statistics/")
    many_api, _ = queries_for(client, "/api/v1/statistics")
    assert many == few and many_api == few_api
    assert many_api <= 2
    assert "being prepared" not in page.content.decode()


def test_statistics_figures_equal_a_direct_computation(client, completed_factory):
    completed_factory(57)
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    body = client.get("/api/v1/statistics").json()
    assert shown(body["services"]) == direct_figures(lambda s: s.service_code)
    assert shown(body["agencies"]) == direct_figures(lambda s: s.agency.code)
    assert body["period_days"] == 365 and body["computed_at"]


def test_public_statistics_never_name_a_restricted_service(client, completed_factory):
    from wagtail.models import PageViewRestriction

    created = completed_factory(30)
    hidden = created[0].service
    PageViewRestriction.objects.create(page=hidden, restriction_type=PageViewRestriction.PASSWORD, password="secret")
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    body = client.get("/api/v1/statistics").json()
    assert hidden.code not in {row["key"] for row in body["services"]}
    assert hidden.title not in client.get("/statistics/").content.decode()
    assert sum(row["count"] for row in body["agencies"]) == 30, "its applications still count for its agency"


def test_statistics_are_not_recomputed_per_request(client, completed_factory):
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    completed_factory(5)  # after the snapshot: not shown until the next refresh
    assert client.get("/api/v1/statistics").json()["services"] == []
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    assert sum(row["count"] for row in client.get("/api/v1/statistics").json()["services"]) == 5


def test_without_a_snapshot_the_page_says_it_is_being_prepared(client, db):
    from form_builder.models import StatisticsSnapshot

    StatisticsSnapshot.objects.all().delete()
    page = client.get("/en/statistics/")
    assert page.status_code == 200 and "being prepared" in page.content.decode()
    api = client.get("/api/v1/statistics")
    assert api.status_code == 503 and api["Retry-After"]
    assert api.json()["error"]["code"] == "statistics_not_ready"
    assert set(api.json()["error"]["message"]) == {"mn", "en"}


def test_refresh_statistics_command_explains_itself_and_reports_progress(db):
    from io import StringIO

    out = StringIO()
    call_command("refresh_statistics", stdout=out)
    text = out.getvalue()
    assert "Computing" in text and "Stored" in text
    result = subprocess.run(
        [sys.executable, "manage.py", "refresh_statistics", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "db_worker" in result.stdout


def test_the_refresh_task_reschedules_itself_on_a_deferring_backend(db, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks_db.models import DBTaskResult

    from form_builder import tasks

    tasks.refresh_statistics.call()
    waiting = DBTaskResult.objects.filter(task_path=tasks.REFRESH_TASK, status="READY")
    assert waiting.count() == 1
    assert waiting.get().run_after > timezone.now() + datetime.timedelta(seconds=settings.TUMEN_STATISTICS_REFRESH_SECONDS - 60)
    tasks.refresh_statistics.call()  # a second chain is never started
    assert waiting.count() == 1


# -- deploy checks: production refuses DEBUG, a weak key, an unsaid proxy count, public private files --

STRONG_KEY = "k" * 10 + "Q7v2-x9_Lm4pZ8rT1yW6nB3cF5hJ0sD2gA8eK4uR7oI9"
SECRETS_KEY = "jv7WF-QhasOaKAXjdXp1w_J_x8KLLGFK1OsjX4mtyZ4="  # a Fernet key (tests only)
CONTROLLED = ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "TUMEN_TRUSTED_PROXIES", "TUMEN_PRIVATE_MEDIA_ROOT", "MEDIA_ROOT", "STATIC_ROOT",
              "TUMEN_SECRETS_KEYS")  # fmt: skip


def production(tmp_path, *args, **env):
    """Run ``args`` under the production settings with a sound environment changed by ``env``
    (a value of None removes the variable)."""
    full_env = {k: v for k, v in os.environ.items() if k not in CONTROLLED and k not in ("DATABASE_URL", "SEARCH_URL")}
    full_env.update(
        DJANGO_SETTINGS_MODULE="cms.settings.production", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="services.example.mn",
        TUMEN_VAR_DIR=str(tmp_path), TUMEN_TRUSTED_PROXIES="1", TUMEN_SECRETS_KEYS=SECRETS_KEY,
    )  # fmt: skip
    for name, value in env.items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def check_deploy(tmp_path, **env):
    return production(tmp_path, "manage.py", "check", "--deploy", **env)


def test_sound_production_settings_pass_check_deploy(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tumen." not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "env, check_id, words",
    [
        ({"DEBUG": "true"}, "tumen.E001", "DEBUG"),
        ({"SECRET_KEY": None}, "tumen.E002", "SECRET_KEY"),
        ({"SECRET_KEY": "short-key"}, "tumen.E002", "SECRET_KEY"),
        ({"SECRET_KEY": "a" * 60}, "tumen.E002", "SECRET_KEY"),
        ({"SECRET_KEY": "changeme" * 7}, "tumen.E002", "SECRET_KEY"),
        ({"SECRET_KEY": "insecure-dev-only-key-change-me-in-production-0123456789"}, "tumen.E002", "SECRET_KEY"),
        ({"TUMEN_TRUSTED_PROXIES": None}, "tumen.E003", "TUMEN_TRUSTED_PROXIES"),
        ({"TUMEN_TRUSTED_PROXIES": ""}, "tumen.E003", "TUMEN_TRUSTED_PROXIES"),
        ({"TUMEN_TRUSTED_PROXIES": "-1"}, "tumen.E003", "TUMEN_TRUSTED_PROXIES"),
        ({"TUMEN_SECRETS_KEYS": None}, "tumen.E006", "TUMEN_SECRETS_KEYS"),
        ({"TUMEN_SECRETS_KEYS": ""}, "tumen.E006", "TUMEN_SECRETS_KEYS"),
        ({"TUMEN_SECRETS_KEYS": f"{SECRETS_KEY},not-a-fernet-key"}, "tumen.E006", "key 2 is not a Fernet key"),
    ],
    ids=["debug", "no-key", "short-key", "one-letter-key", "repeated-word-key", "dev-key", "proxies-unset", "proxies-empty",
         "proxies-negative", "secrets-keys-unset", "secrets-keys-empty", "secrets-key-malformed"],  # fmt: skip
)
def test_check_deploy_fails_on_an_unsafe_production_setting(tmp_path, env, check_id, words):
    result = check_deploy(tmp_path, **env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert check_id in output and words in output
    assert "Traceback" not in output  # a clear report, not a crash at import


def test_an_explicit_zero_says_there_is_no_proxy(tmp_path):
    result = check_deploy(tmp_path, TUMEN_TRUSTED_PROXIES="0")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("proxies, trusted", [("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")])
def test_x_forwarded_proto_is_trusted_only_behind_a_proxy(tmp_path, proxies, trusted):
    """With no proxy in front, a client could send X-Forwarded-Proto: https itself and pass for
    a secure connection (no HTTPS redirect, secure-only logic fooled)."""
    result = production(
        tmp_path, "-c",
        "from django.conf import settings; import django; django.setup(); print(settings.SECURE_PROXY_SSL_HEADER)",
        TUMEN_TRUSTED_PROXIES=proxies,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == trusted


def test_private_uploads_inside_a_served_folder_fail_check_deploy(tmp_path):
    media, static = tmp_path / "media", tmp_path / "static"
    for private in (media / "private", media, static / "uploads"):
        result = check_deploy(tmp_path, MEDIA_ROOT=str(media), STATIC_ROOT=str(static), TUMEN_PRIVATE_MEDIA_ROOT=str(private))
        assert result.returncode != 0 and "tumen.E004" in result.stdout + result.stderr, private


def test_the_production_web_server_refuses_to_start_with_a_weak_key(tmp_path):
    result = production(tmp_path, "-c", "import cms.wsgi", SECRET_KEY="short-key")
    assert result.returncode != 0
    assert "tumen.E002" in result.stderr
    without_secrets_keys = production(tmp_path, "-c", "import cms.wsgi", TUMEN_SECRETS_KEYS=None)
    assert without_secrets_keys.returncode != 0 and "tumen.E006" in without_secrets_keys.stderr
    assert production(tmp_path, "-c", "import cms.wsgi").returncode == 0


def test_private_uploads_default_to_a_folder_outside_media_root(tmp_path):
    result = production(
        tmp_path, "-c",
        "from django.conf import settings; import django; django.setup(); "
        "print(settings.TUMEN_PRIVATE_MEDIA_ROOT); print(settings.MEDIA_ROOT); print(settings.STATIC_ROOT)",
        TUMEN_PRIVATE_MEDIA_ROOT=None, MEDIA_ROOT=None, STATIC_ROOT=None,
    )  # fmt: skip
    private, media, static = (Path(line) for line in result.stdout.split())
    assert private == tmp_path / "private"
    assert media not in private.parents and static not in private.parents


def test_statistics_json_has_the_documented_shape(client, completed_factory):
    import yaml

    schemas = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())["components"]["schemas"]
    completed_factory(4)
    call_command("refresh_statistics", stdout=open(os.devnull, "w"))
    body = client.get("/api/v1/statistics").json()
    assert set(body) == set(schemas["Statistics"]["required"])
    for row in body["agencies"] + body["services"]:
        assert set(row) == set(schemas["StatisticsRow"]["required"])


def test_development_uploads_left_in_the_old_folder_are_pointed_out(settings, tmp_path):
    from cms.checks import private_uploads_left_in_media_root

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TUMEN_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    assert private_uploads_left_in_media_root(None) == []
    (tmp_path / "media" / "private" / "uploads").mkdir(parents=True)
    (tmp_path / "media" / "private" / "uploads" / "x.pdf").write_bytes(b"%PDF")
    [warning] = private_uploads_left_in_media_root(None)
    assert warning.id == "tumen.W005" and "mv " in warning.hint


def test_a_missing_snapshot_queues_one_refresh_for_the_workers(client, db, settings, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    from form_builder import tasks
    from form_builder.models import StatisticsSnapshot

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    monkeypatch.setattr(tasks, "_refresh_checked_at", -float("inf"))
    StatisticsSnapshot.objects.all().delete()
    assert "being prepared" in client.get("/en/statistics/").content.decode()
    assert client.get("/api/v1/statistics").status_code == 503
    monkeypatch.setattr(tasks, "_refresh_checked_at", -float("inf"))
    client.get("/en/statistics/")
    assert DBTaskResult.objects.filter(task_path=tasks.REFRESH_TASK, status="READY").count() == 1
