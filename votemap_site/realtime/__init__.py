"""The realtime core shared by every Socket.IO namespace of the site.

- server.py builds the one AsyncServer and registers the namespaces.
- base.py is the namespace base class: validation, envelope, rate limits,
  identity, error handling, connection counting.
- errors.py, schemas.py, ratelimit.py, identity.py, presence.py, ticker.py,
  dbaccess.py are the pieces it is made of, usable (and tested) on their own.
- ticker.py is the one periodic loop every app uses; watcher.py, built on it,
  is how every app learns of database changes made outside this process.
- lobby.py is the landing page's namespace (live counts per app).
"""
