"""Numbering the items a briefing cites: the first citation of an item makes it attachment n, later ones reuse n."""

from __future__ import annotations

from incidents.briefings.document import Sentence, Source
from incidents.briefings.extract import display_title
from incidents.briefings.gather import Item
from incidents.briefings.masking import Masker

CHANNEL_LABELS = {"news": "新闻", "social": "社交媒体", "complaint": "投诉平台", "regulator": "监管",
                  "trending": "热榜"}
CHANNEL_ORDER = ("news", "social", "complaint", "regulator", "trending")


class Citations:
    """The attachments of one briefing, in order of first citation."""

    def __init__(self, masker: Masker):
        self.masker = masker
        self._by_item: dict[int, Source] = {}

    def source(self, item: Item) -> Source:
        found = self._by_item.get(item.id)
        if found is None:
            found = Source(number=len(self._by_item) + 1, title=self.masker.mask(display_title(item)),
                           url=item.url, source=item.source_id, channel=CHANNEL_LABELS.get(item.channel, item.channel),
                           published_at=item.published_at or item.fetched_at, evidence_hash=item.evidence_hash)
            self._by_item[item.id] = found
        return found

    def quote(self, text: str, *items: Item) -> Sentence:
        """A sentence taken from crawled text (masked), citing the items it comes from."""
        return Sentence(self.masker.mask(text), tuple(self.source(i) for i in items))

    def fact(self, text: str, *items: Item) -> Sentence:
        """A sentence the product states from its records (already safe text), citing the items it is about."""
        return Sentence(text, tuple(self.source(i) for i in items))

    @property
    def attachments(self) -> list[Source]:
        return sorted(self._by_item.values(), key=lambda s: s.number)
