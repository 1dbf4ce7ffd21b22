"""The realtime core shared by every Socket.IO namespace of the site.

- server.py builds the one AsyncServer and registers the namespaces.
- base.py is the namespace base class: validation, envelope, rate limits,
  identity, error handling, connection counting.
- errors.py, schemas.py, ratelimit.py, identity.py, presence.py, ticker.py,
  dbaccess.py are the pieces it is made of, usable (and tested) on their own.
"""
