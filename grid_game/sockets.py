from votemap_site.realtime.base import BaseNamespace


class GridGameNamespace(BaseNamespace):
    schemas = {}
