"""Page-level helpers the spiders share: decoding, dates, text, metadata, feeds,
structured data and company-reply detection. Each module does one job and has
no Scrapy dependency except `encoding.response_text`/`selector`."""
