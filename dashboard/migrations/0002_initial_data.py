"""Load Spain's 52 provinces and the voting state row.

Safe to run on a database that already has them: existing rows (and their
vote counters, active flags and the voting state) are left exactly as they are.
"""

from django.db import migrations

# A copy, not an import, so this migration means the same thing forever.
PROVINCES = (
    ("01", "Araba/Álava"), ("02", "Albacete"), ("03", "Alicante/Alacant"), ("04", "Almería"),
    ("05", "Ávila"), ("06", "Badajoz"), ("07", "Balears, Illes"), ("08", "Barcelona"),
    ("09", "Burgos"), ("10", "Cáceres"), ("11", "Cádiz"), ("12", "Castellón/Castelló"),
    ("13", "Ciudad Real"), ("14", "Córdoba"), ("15", "Coruña, A"), ("16", "Cuenca"),
    ("17", "Girona"), ("18", "Granada"), ("19", "Guadalajara"), ("20", "Gipuzkoa"),
    ("21", "Huelva"), ("22", "Huesca"), ("23", "Jaén"), ("24", "León"),
    ("25", "Lleida"), ("26", "Rioja, La"), ("27", "Lugo"), ("28", "Madrid"),
    ("29", "Málaga"), ("30", "Murcia"), ("31", "Navarra"), ("32", "Ourense"),
    ("33", "Asturias"), ("34", "Palencia"), ("35", "Palmas, Las"), ("36", "Pontevedra"),
    ("37", "Salamanca"), ("38", "Santa Cruz de Tenerife"), ("39", "Cantabria"), ("40", "Segovia"),
    ("41", "Sevilla"), ("42", "Soria"), ("43", "Tarragona"), ("44", "Teruel"),
    ("45", "Toledo"), ("46", "Valencia/València"), ("47", "Valladolid"), ("48", "Bizkaia"),
    ("49", "Zamora"), ("50", "Zaragoza"), ("51", "Ceuta"), ("52", "Melilla"),
)


def load(apps, schema_editor):
    Province = apps.get_model("dashboard", "Province")
    VotingState = apps.get_model("dashboard", "VotingState")
    alias = schema_editor.connection.alias
    existing = set(Province.objects.using(alias).values_list("code", flat=True))
    Province.objects.using(alias).bulk_create(
        [Province(code=code, name=name) for code, name in PROVINCES if code not in existing]
    )
    VotingState.objects.using(alias).get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
