"""Pictures made for posting on social networks (the share picture, the page's link preview)
and the words they carry, in the reader's language."""

from core.sharing.picture import SQUARE, WIDE, ShareCard, qr_matrix, render_share
from core.sharing.words import encouragement, encourages, share_card

__all__ = [
    "SQUARE",
    "WIDE",
    "ShareCard",
    "encouragement",
    "encourages",
    "qr_matrix",
    "render_share",
    "share_card",
]
