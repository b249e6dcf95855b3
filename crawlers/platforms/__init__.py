"""Adapters for login-walled platforms (Weibo, WeChat public accounts, Douyin) behind one interface
(``crawlers.platforms.base``), the options of a ``platform`` source (``crawlers.platforms.config``) and the adapter
for each platform name (``crawlers.platforms.adapters``); see docs/platforms.md. Nothing is imported here, so
``crawlers.sources`` can read the options without loading the spiders."""
