"""Give the catalog its English pages (Wagtail translations), or bring them up to date."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.languages import default_language
from service_pages import translations


class Command(BaseCommand):
    help = (
        "Make the catalog's pages in another language (default: English) as Wagtail translations of the "
        "Mongolian originals: the home page, the catalog index, every agency page (titled with the agency's "
        "English name) and every published service page (titled with its title_en; the Mongolian title while "
        "there is none), each published under /<language>/ with the same URL path. Other text is copied from the "
        "original until a translator edits it in the admin. Run it again at any time, e.g. after import_services "
        "or import_agencies: it adds what is missing; on existing translations it updates the facts (code, "
        "agency, category, fee, processing time, channels, stages, place, form) and any text no translator has "
        "changed (text a translator changed is never overwritten); a translation with a draft in progress keeps "
        "its draft. Agency groups get the same rights on their agency's translated pages. Ends with a summary "
        "line 'language=.. created=N updated=N unchanged=N ...'."
    )

    def add_arguments(self, parser):
        languages = [code for code, _name in settings.LANGUAGES if code != default_language()]
        parser.add_argument(
            "--language", default="en", choices=languages, help="Language to translate into (default: en)."
        )
        parser.add_argument(
            "--agency", action="append", default=[], metavar="CODE",
            help="Only this agency's pages (repeat for several agencies). Default: the whole catalog.",
        )  # fmt: skip

    def handle(self, *args, **options):
        language = options["language"]
        try:
            agencies = translations.agencies_in_scope(options["agency"]) if options["agency"] else None
        except ValueError as error:
            raise CommandError(f"unknown agency code(s): {error}") from None
        report = translations.translate(
            language, agencies, progress_stream=sys.stderr, log=lambda line: self.stdout.write("  " + line)
        )
        self.stdout.write(self.style.SUCCESS(report.summary()))
