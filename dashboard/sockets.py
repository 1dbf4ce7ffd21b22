from votemap_site.realtime.base import BaseNamespace


class MapDashboardNamespace(BaseNamespace):
    schemas = {}
