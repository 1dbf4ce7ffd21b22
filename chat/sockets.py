from votemap_site.realtime.base import BaseNamespace


class ChatNamespace(BaseNamespace):
    schemas = {}
