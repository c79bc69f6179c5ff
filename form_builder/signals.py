"""Publishing a form definition freezes a new version (only when the form really changed)."""


def freeze_published_form(sender, instance, revision=None, **kwargs):
    instance.freeze_version(user=getattr(revision, "user", None))
