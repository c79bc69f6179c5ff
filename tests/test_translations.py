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
