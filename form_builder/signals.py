"""Publishing a form definition freezes a new version (only when the form really changed)."""


def freeze_published_form(sender, instance, revision=None, **kwargs):
    instance.freeze_version(user=getattr(revision, "user", None))


def reset_private_storage(setting, **kwargs):
    """Tests (and ``override_settings``) may move the private upload folder."""
    if setting in ("TUMEN_PRIVATE_MEDIA_ROOT", "MEDIA_ROOT"):
        from django.utils.functional import empty

        from .models import _private_storage

        _private_storage._wrapped = empty
