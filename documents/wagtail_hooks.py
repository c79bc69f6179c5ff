"""The citizen's "My documents" section on the My applications page (``/my/``, form_builder),
which renders the sections that ``tumen_my_page_sections`` hooks return for the signed-in citizen."""

from wagtail import hooks

from .views import my_documents_section

hooks.register("tumen_my_page_sections", my_documents_section)
