from django.apps import AppConfig


class VotemapSiteConfig(AppConfig):
    name = "votemap_site"
    verbose_name = "votemap_site"
