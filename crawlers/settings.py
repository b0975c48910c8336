"""Scrapy settings: every crawl setting lives here, polite by default."""

from complaintwatch import __version__

BOT_NAME = "complaintwatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# An honest User-Agent that says who we are and where to complain.
USER_AGENT = f"complaintwatch/{__version__} (+https://github.com/complaintwatch/complaintwatch; complaint aggregator)"
ROBOTSTXT_OBEY = True

# Politeness: one site is never hammered; AutoThrottle backs off when it slows.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024  # a bigger "page" is not a post
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_TIMES = 2

# HTTP cache: re-crawls revalidate instead of re-downloading (RFC2616 policy
# honours ETag/Last-Modified, so unchanged pages cost a 304).
HTTPCACHE_ENABLED = True
# RFC2616Policy, except that a page without an explicit lifetime is revalidated
# on every crawl instead of trusting a Last-Modified heuristic (see the module).
HTTPCACHE_POLICY = "crawlers.httpcache.RevalidatingPolicy"
HTTPCACHE_HEURISTIC_MAX_AGE = 0
HTTPCACHE_DIR = "httpcache"
HTTPCACHE_IGNORE_HTTP_CODES = [500, 502, 503, 504, 429]

# --jobdir that survives a hard kill: a journal of the frontier replaces
# Scrapy's disk queue, and a page only counts as done once its posts are
# committed to the store (crawlers/frontier.py).
SCHEDULER = "crawlers.frontier.ResumableScheduler"
SPIDER_MIDDLEWARES = {"crawlers.frontier.FrontierMiddleware": 10}

# Never fetch a URL on the store's takedown list; a page over DOWNLOAD_MAXSIZE
# is a logged skip (crawlers/middlewares.py). FrontierDownloaderMiddleware (the
# last to see an exception) tells a JOBDIR crawl that a request failed for good.
DOWNLOADER_MIDDLEWARES = {
    "crawlers.frontier.FrontierDownloaderMiddleware": 10,
    "crawlers.middlewares.TakedownMiddleware": 50,
    "crawlers.middlewares.SkipOversizeMiddleware": 60,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.DatePipeline": 200,
    "crawlers.pipelines.BuildPostPipeline": 300,
    "crawlers.pipelines.StorePipeline": 900,
}

EXTENSIONS = {
    "crawlers.progress.CrawlProgress": 500,
}

# Where StorePipeline writes; the CLI sets it from --store.
COMPLAINTWATCH_STORE = "sqlite:///complaintwatch.db"
COMPLAINTWATCH_STORE_BATCH = 200
COMPLAINTWATCH_PROGRESS = False

REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# Local demo/test sites on loopback are ours: no need to wait between requests.
LOOPBACK_OVERRIDES = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_START_DELAY": 0.01,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 8.0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
}
