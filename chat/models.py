"""Chat rooms, their messages, and moderation events the live server relays."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Room(models.Model):
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=80)
    description = models.CharField(_("description"), max_length=300, blank=True)
    sample_sentences = models.TextField(
        _("sample sentences"), blank=True,
        help_text=_("One per line; the page's auto chat posts them in turn."),
    )
    is_open = models.BooleanField(_("open"), default=True, help_text=_("A closed room refuses new messages."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.name

    @property
    def sentences(self) -> list[str]:
        return [line.strip() for line in self.sample_sentences.splitlines() if line.strip()]


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages", verbose_name=_("room"))
    author = models.CharField(_("author"), max_length=32)
    color = models.CharField(_("colour"), max_length=7)
    # HMAC of the sender's session key (or connection), never the key itself.
    sender_key = models.CharField(_("sender"), max_length=32, db_index=True)
    # Posted by a staff user (shown as such; staff nicknames are reserved).
    staff = models.BooleanField(_("staff"), default=False)
    text = models.TextField(_("text"), max_length=500)
    client_id = models.UUIDField(_("client id"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["room", "-id"], name="chat_msg_room_newest")]
        constraints = [
            models.UniqueConstraint(
                fields=["sender_key", "client_id"], condition=Q(client_id__isnull=False),
                name="chat_msg_client_id_unique_per_sender",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"


class ModerationEvent(models.Model):
    """Written by the admin in the same transaction as a deletion; every worker
    polls these and tells its connected clients (works with several workers)."""

    class Kind(models.TextChoices):
        DELETE = "delete", _("message deleted")
        CLEAR = "clear", _("history cleared")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # DELETE: the deleted message ids; CLEAR: every message with id <= up_to_id is gone.
    message_ids = models.JSONField(default=list, blank=True)
    up_to_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class StaffNickname(models.Model):
    """The nickname a staff user is using, reserved: no one else may take it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    nickname = models.CharField(_("nickname"), max_length=32)
    # nickname after NFKC + case folding (chat.senders.nickname_fold)
    folded = models.CharField(max_length=64, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("staff nickname")
        verbose_name_plural = _("staff nicknames")

    def __str__(self) -> str:
        return self.nickname
