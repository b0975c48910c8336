"""The Scrapy project: spiders, items, pipelines, settings."""
