"""WSGI entry point used by gunicorn (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cms.settings.base")

application = get_wsgi_application()

# Production settings: never serve with a weak key, DEBUG on, or the other errors of cms/checks.py.
from cms.checks import refuse_unsafe_deploy  # noqa: E402

refuse_unsafe_deploy()
