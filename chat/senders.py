"""What a page shows about who wrote a message, derived from the sender (pure).

The sender key is the HMAC public id of the sender's browser session (or of
its connection, for a client without cookies): stored with every message, the
same on every worker, unknown to the client and impossible to choose. The tag
and the colour are functions of it, never of the nickname, so "Moderator"
typed by a stranger looks like the stranger.
"""

import hashlib
import unicodedata

# Text colours with a contrast ratio of at least 4.5:1 on white (WCAG AA).
PALETTE = (
    "#b3261e", "#1b6e3a", "#0b57d0", "#7b3fc4", "#a14800", "#00707a",
    "#a3165f", "#4453c4", "#3d6b00", "#8a5a00", "#c2185b", "#00695c",
)
# Staff only: no other sender gets it (it is not in PALETTE).
STAFF_COLOR = "#111111"

# Crockford's base 32 in lower case (no i, l, o, u: nothing to misread).
TAG_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# 4 characters, 20 bits: short enough to read beside a name, and two given
# senders share one with probability about one in a million.
TAG_LENGTH = 4


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:8], "big")


def sender_tag(sender_key: str) -> str:
    """A short public tag of a sender, e.g. "k3f9"."""
    n = _digest("tag:" + sender_key)
    return "".join(TAG_ALPHABET[(n >> (5 * i)) & 31] for i in range(TAG_LENGTH))


def sender_color(sender_key: str, *, staff: bool = False) -> str:
    """The sender's colour; staff share one colour that no one else gets."""
    if staff:
        return STAFF_COLOR
    return PALETTE[_digest("color:" + sender_key) % len(PALETTE)]


def nickname_fold(nickname: str) -> str:
    """The form nicknames are compared in for reservation: NFKC, case-folded,
    trimmed (so "ＭＯＤ", "Mod" and "mod " are one name)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", nickname).casefold()).strip()
