"""Mongolian is the first language: every string of our own UI is translated."""

import subprocess
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
PO_FILES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))


def test_there_is_a_mongolian_catalogue():
    assert ROOT / "locale" / "mn" / "LC_MESSAGES" / "django.po" in PO_FILES


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_catalogue_has_no_untranslated_or_fuzzy_strings(po):
    # msgfmt's own statistics: "N translated messages[, M fuzzy translations][, K untranslated messages]."
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


@pytest.mark.django_db
def test_public_pages_speak_mongolian_by_default(client):
    html = client.get("/no-such-page/").content.decode()
    assert "Хуудас олдсонгүй" in html
    with translation.override("en"):
        assert translation.gettext("Page not found") == "Page not found"


def test_catalogue_is_up_to_date_with_the_code(tmp_path):
    """A string added to the code but never extracted would show in English on the Mongolian site.

    makemessages runs on a copy of the sources (it writes next to them), and every message it
    finds must already be translated in our catalogue.
    """
    import shutil
    import sys

    import polib

    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "*.mo", "node_modules"))
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "mn", "--ignore=.venv", "--ignore=var",
         "--ignore=plugins/examples", "--no-obsolete", "-v0"],
        cwd=copy, capture_output=True, text=True, env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "cms.settings.test"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    catalogue = polib.pofile(str(copy / "locale" / "mn" / "LC_MESSAGES" / "django.po"))
    missing = [entry.msgid for entry in catalogue if not entry.translated() and not entry.obsolete]
    assert not missing, f"{len(missing)} string(s) not translated; run `make messages` and translate: {missing[:10]}"
