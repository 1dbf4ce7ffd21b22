from django.db import migrations

ROOMS = [
    {
        "slug": "cats",
        "name": "Gatos",
        "description": "Todo sobre gatos: siestas, travesuras y ronroneos.",
        "sentences": [
            "Mi gato duerme dieciséis horas al día y aun así parece cansado.",
            "¿Alguien más tiene un gato que tira cosas de la mesa a propósito?",
            "El ronroneo de un gato tranquilo es la mejor banda sonora para trabajar.",
            "Mi gata se esconde en cada caja de cartón que llega a casa.",
            "Los gatos naranjas tienen fama de traviesos y el mío lo confirma.",
            "Hoy mi gato ha cazado una polilla y me la ha traído como regalo.",
            "El rascador nuevo ha durado intacto exactamente una tarde.",
            "¿Pienso o comida húmeda? Mi gato prefiere lo que come el vecino.",
            "Cuando abro la nevera, el gato aparece desde cualquier rincón de la casa.",
            "Adoptar un gato adulto del refugio fue la mejor decisión del año.",
        ],
    },
    {
        "slug": "dogs",
        "name": "Perros",
        "description": "Perros, paseos, pelotas y parques.",
        "sentences": [
            "Mi perro reconoce el sonido de las llaves y ya espera en la puerta.",
            "El paseo de la mañana por el parque es sagrado para mi perra.",
            "¿Qué juguete aguanta más de una semana con un cachorro?",
            "Mi perro ladra al cartero todos los días como si fuera la primera vez.",
            "La pelota de tenis sigue siendo el mejor regalo para cualquier perro.",
            "Hemos empezado clases de adiestramiento y el cachorro aprende rápido.",
            "Mi perra se pone celosa cuando acaricio al perro del vecino.",
            "Después del baño, el perro corre por toda la casa como loco.",
            "Un perro cansado es un perro feliz, dice mi veterinaria.",
            "El parque canino del barrio se llena de perros cada tarde.",
        ],
    },
]


def create_rooms(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    for room in ROOMS:
        Room.objects.update_or_create(
            slug=room["slug"],
            defaults={
                "name": room["name"],
                "description": room["description"],
                "sample_sentences": "\n".join(room["sentences"]),
                "is_open": True,
            },
        )


def remove_rooms(apps, schema_editor):
    apps.get_model("chat", "Room").objects.filter(slug__in=[r["slug"] for r in ROOMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(create_rooms, remove_rooms)]
