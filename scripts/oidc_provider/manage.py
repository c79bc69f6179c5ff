#!/usr/bin/env python
"""The demo national identity provider (ДАН stand-in): a separate Django project on loopback.

Never shares Tumen's settings or database. Started by ``scripts/oidc-provider.sh`` (``make run``)
and by the tests' ``oidc_provider`` fixture.
"""
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dan.settings"  # never Tumen's, whatever the caller exported
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
