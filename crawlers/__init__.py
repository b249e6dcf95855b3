"""Crawling: source configs, generic Scrapy spiders, extraction, org-chart matching, dedup and story clustering."""
