from django.db import migrations


def create_main(apps, schema_editor):
    Arena = apps.get_model("grid_game", "Arena")
    Arena.objects.get_or_create(
        slug="main",
        defaults={"name": "Main arena", "width": 20, "height": 10, "max_players": 32, "coins": 3, "is_open": True},
    )


def remove_main(apps, schema_editor):
    apps.get_model("grid_game", "Arena").objects.filter(slug="main").delete()


class Migration(migrations.Migration):
    dependencies = [("grid_game", "0001_initial")]
    operations = [migrations.RunPython(create_main, remove_main)]
