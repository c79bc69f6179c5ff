"""Editors' search rules: synonym groups and best bets (GOV.UK search does the same).

Both are Wagtail snippets, edited in the admin, and apply to the engine and the
embedded index alike (see ``search.finder``). Matching is on the Mongolian
skeleton (``core.mongolian.skeleton``), so "ДАН", "дан" and "dan" are one term.
"""

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.models import Orderable
from wagtail.snippets.models import register_snippet

from core.mongolian import skeleton
from service_pages.models import ServicePage

if TYPE_CHECKING:
    from search.params import Query
class Synonym(models.Model):
    """Terms that mean the same to citizens, e.g. "ДАН, нэвтрэх" or "паспорт, гадаад паспорт"."""

    terms = models.CharField(
        _("terms"), max_length=500, help_text=_("Words or phrases that mean the same, separated by commas.")
    )

    panels = [FieldPanel("terms")]

    class Meta:
        app_label = "tumen_search"
        verbose_name = _("synonym group")
        verbose_name_plural = _("synonym groups")

    def __str__(self):
        return self.terms

    def term_list(self) -> list[str]:
        return [term.strip() for term in self.terms.split(",") if term.strip()]

    @classmethod
    def alternatives(cls, q: str) -> list[str]:
        """``q`` with each synonym found in it replaced by the other terms of its group."""
        query = f" {skeleton(q)} "
        alternatives = []
        for group in cls.objects.all():
            terms = [(term, skeleton(term)) for term in group.term_list()]
            for _term, key in terms:
                if key and f" {key} " in query:
                    for _other, other_key in terms:
                        if other_key != key:
                            alternatives.append(query.replace(f" {key} ", f" {other_key} ").strip())
        return list(dict.fromkeys(alternatives))


class BestBet(ClusterableModel):
    """Services pinned on top of the results for a query."""

    query = models.CharField(_("query"), max_length=200, help_text=_("The search text citizens type."))
    query_key = models.CharField(max_length=200, editable=False, db_index=True)

    panels = [FieldPanel("query"), InlinePanel("services", label=_("services"), min_num=1)]

    class Meta:
        app_label = "tumen_search"
        verbose_name = _("best bet")
        verbose_name_plural = _("best bets")

    def __str__(self):
        return self.query

    def save(self, *args, **kwargs):
        self.query_key = skeleton(self.query)
        super().save(*args, **kwargs)

    @classmethod
    def pages_for(cls, q: str):
        """The live, public original service pages pinned for ``q``, in the editors' order.

        An editor may have picked a service's English page in the chooser: it stands for its
        original (search results are originals; the page view links to the reader's language).
        """
        key = skeleton(q)
        if not key:
            return []
        keys = list(
            BestBetService.objects.filter(best_bet__query_key=key).order_by("best_bet_id", "sort_order")
            .values_list("service__translation_key", flat=True)
        )  # fmt: skip
        if not keys:
            return []
        pages = {
            page.translation_key: page
            for page in ServicePage.objects.live().public().canonical().filter(translation_key__in=keys)
            .select_related("agency", "category", "aimag", "soum")
        }  # fmt: skip
        return [pages[translation_key] for translation_key in dict.fromkeys(keys) if translation_key in pages]


class BestBetService(Orderable):
    best_bet = ParentalKey(BestBet, related_name="services", on_delete=models.CASCADE)
    service = models.ForeignKey("service_pages.ServicePage", verbose_name=_("service"), on_delete=models.CASCADE)

    panels = [FieldPanel("service")]

    class Meta(Orderable.Meta):
        app_label = "tumen_search"


register_snippet(Synonym)
register_snippet(BestBet)


def add_synonym(query: str, words: str) -> Synonym:
    """Make ``query`` mean the same as ``words`` (the zero-result report's one-step fix).

    Joins the group that already holds ``words`` (or ``query``), else starts a new group; the
    model's own validation (``full_clean``) applies. ``ValidationError`` when either is empty or
    they are already one term.
    """
    query, words = query.strip(), words.strip()
    if not skeleton(query) or not skeleton(words):
        raise ValidationError(_("Enter the search text and the words it should mean."))
    if skeleton(query) == skeleton(words):
        raise ValidationError(_("The search text and the words are the same term."))
    for group in Synonym.objects.all():
        keys = {skeleton(term) for term in group.term_list()}
        if skeleton(words) in keys or skeleton(query) in keys:
            group.terms = ", ".join([*group.term_list(), *(term for term in (query, words) if skeleton(term) not in keys)])
            group.full_clean()
            group.save()
            return group
    group = Synonym(terms=f"{query}, {words}")
    group.full_clean()
    group.save()
    return group


def add_best_bet(query: str, code: str) -> BestBet:
    """Pin the service ``code`` on top of the results for ``query`` (the report's other one-step fix).

    Adds to the best bet of the same search text when there is one. ``ValidationError`` for an
    unknown service.
    """
    query = query.strip()
    service = ServicePage.objects.by_code(code.strip()) if code.strip() else None
    if service is None:
        raise ValidationError(_("No service has the code %(code)s.") % {"code": code})
    if not skeleton(query):
        raise ValidationError(_("Enter the search text and the words it should mean."))
    bet = BestBet.objects.filter(query_key=skeleton(query)).first() or BestBet(query=query)
    bet.full_clean(exclude=["query_key"])
    bet.save()
    if not bet.services.filter(service__translation_key=service.translation_key).exists():
        BestBetService.objects.create(best_bet=bet, service=service, sort_order=bet.services.count())
    return bet


def synonym_alternatives(q: str) -> list[str]:
    """The query rewritten with each matching synonym group's other terms."""
    return Synonym.alternatives(q)


def best_bets_for(query: "Query") -> list["ServicePage"]:
    """The editors' pinned services for this search text (not when filtering by facets)."""
    if not query.q or query.filters():
        return []
    return BestBet.pages_for(query.q)
