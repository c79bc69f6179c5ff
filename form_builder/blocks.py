"""StreamField blocks in which editors build a form: steps holding questions.

The blocks only edit; :meth:`form_builder.models.FormDefinition.build_schema` turns them into
the plain JSON a published :class:`~form_builder.models.FormVersion` freezes, and
:mod:`form_builder.spec` runs that JSON.
"""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from .field_types import FIELD_TYPES
from .spec import OPERATORS


def _field_type_choices():
    return [(key, field_type.label) for key, field_type in FIELD_TYPES.items()]


class ConditionBlock(blocks.StructBlock):
    field = blocks.CharBlock(
        label=_("question key"), required=False, max_length=64, help_text=_("The key of an earlier question.")
    )
    op = blocks.ChoiceBlock(label=_("operator"), choices=list(OPERATORS.items()), required=False, default="equals")
    value = blocks.CharBlock(
        label=_("value"),
        required=False,
        max_length=255,
        help_text=_("For yes/no questions: true or false. For 'is one of': values separated by commas."),
    )

    class Meta:
        form_classname = "tumen-condition"


class FieldBlock(blocks.StructBlock):
    type = blocks.ChoiceBlock(label=_("type"), choices=_field_type_choices)
    key = blocks.RegexBlock(
        label=_("key"),
        regex=r"^[a-z][a-z0-9_]{0,63}$",
        required=False,
        help_text=_(
            "The stable name of the answer in submissions and exports. Left empty, it is made from the "
            "label when saved. Do not change it once the form is in use: renaming the label is safe."
        ),
        error_messages={"invalid": _("Use lower-case Latin letters, digits and _, starting with a letter.")},
    )
    label = blocks.CharBlock(label=_("label (Mongolian)"), max_length=255)
    label_en = blocks.CharBlock(label=_("label (English)"), max_length=255, required=False)
    help_text = blocks.CharBlock(label=_("help text (Mongolian)"), max_length=500, required=False)
    help_text_en = blocks.CharBlock(label=_("help text (English)"), max_length=500, required=False)
    required = blocks.BooleanBlock(label=_("required"), required=False)
    choices = blocks.TextBlock(
        label=_("choices"),
        required=False,
        help_text=_("Choice questions: one per line as 'value | Mongolian label | English label'."),
    )
    min = blocks.CharBlock(
        label=_("minimum"), required=False, max_length=32, help_text=_("Numbers, dates (YYYY-MM-DD or 'today'), number of choices.")
    )
    max = blocks.CharBlock(label=_("maximum"), required=False, max_length=32)
    max_length = blocks.IntegerBlock(label=_("maximum length"), required=False, min_value=1, max_value=10000)
    max_size_mb = blocks.IntegerBlock(label=_("largest file (MB)"), required=False, min_value=1, max_value=50)
    allowed_types = blocks.CharBlock(
        label=_("allowed file types"), required=False, max_length=100, help_text=_("Extensions, e.g. pdf, jpg, png.")
    )
    show_if = ConditionBlock(label=_("show only if"), required=False)
    required_if = ConditionBlock(label=_("required if"), required=False)

    class Meta:
        icon = "form"
        label = _("question")
        label_format = "{label}"


class StepBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("title (Mongolian)"), max_length=255)
    title_en = blocks.CharBlock(label=_("title (English)"), max_length=255, required=False)
    skip_if = ConditionBlock(label=_("skip this step if"), required=False)
    fields = blocks.ListBlock(FieldBlock(), label=_("questions"), min_num=1)

    class Meta:
        icon = "list-ol"
        label = _("step")
        label_format = "{title}"
