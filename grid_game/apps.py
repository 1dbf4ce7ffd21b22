from django.apps import AppConfig


class GridGameConfig(AppConfig):
    name = "grid_game"
    verbose_name = "Grid game"
