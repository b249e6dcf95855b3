"""The adapter for each ``platform.name`` a source may give."""

from __future__ import annotations

from crawlers.platforms.base import PlatformAdapter
from crawlers.platforms.douyin import DouyinAdapter
from crawlers.platforms.wechat import WechatAdapter
from crawlers.platforms.weibo import WeiboAdapter

ADAPTERS: dict[str, type[PlatformAdapter]] = {"weibo": WeiboAdapter, "wechat": WechatAdapter,
                                              "douyin": DouyinAdapter}
