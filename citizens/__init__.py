"""Citizens and organisations signed in through the national identity service (ДАН).

Sits just above ``core``: every app that needs to know who is signed in asks
``citizens.identity.verified_identity(request)``.
"""
