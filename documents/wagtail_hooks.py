"""The citizen's documents on the My applications pages (``/my/`` and ``/my/<tracking code>/``,
form_builder), which render the sections that ``tumen_my_page_sections`` and
``tumen_my_application_sections`` hooks return for the signed-in citizen."""

from wagtail import hooks

from .views import my_application_documents_section, my_documents_section

hooks.register("tumen_my_page_sections", my_documents_section)
hooks.register("tumen_my_application_sections", my_application_documents_section)
