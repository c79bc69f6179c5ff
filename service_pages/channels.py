"""The ways to apply for a service: the one table of channels.

Each channel is a spreadsheet / URL / API key (``online``), the ``ServicePage`` boolean field
that turns it on, and the label readers see. The importer and exporter (``catalog``,
``resources``), the service page (``ServicePage.channel_list``) and search (filters, facets,
``search.params``, ``search.summary``, ``search.engine``, ``search.embedded``) all read this table, in this order.
"""

from __future__ import annotations

from typing import NamedTuple

from django.utils.translation import gettext_lazy as _


class Channel(NamedTuple):
    field: str  # the ServicePage boolean field
    label: str  # shown to readers (lazy)


CHANNELS: dict[str, Channel] = {
    "online": Channel("channel_online", _("Online")),
    "operator": Channel("channel_operator", _("Through a soum operator")),
    "in_person": Channel("channel_in_person", _("In person")),
}
CHANNEL_FIELDS = tuple(channel.field for channel in CHANNELS.values())
