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
# Relative paths would land in Scrapy's project data dir, which needs a
# scrapy.cfg above the working directory (else the cache is disabled): the
# runner sets an absolute path in the state folder (crawlers/runner.py).
HTTPCACHE_DIR = "httpcache"
HTTPCACHE_IGNORE_HTTP_CODES = [500, 502, 503, 504, 429]

# --jobdir that survives a hard kill: a journal of the frontier replaces
# Scrapy's disk queue, and a page only counts as done once its posts are
# committed to the store (crawlers/frontier.py).
SCHEDULER = "crawlers.frontier.ResumableScheduler"
SPIDER_MIDDLEWARES = {
    "crawlers.frontier.FrontierMiddleware": 10,
    "crawlers.middlewares.PaginationBoundsMiddleware": 20,
    # posts only under the crawled site, no javascript:/data:/vbscript: URLs (crawlers/sitebound.py)
    "crawlers.sitebound.SiteBoundMiddleware": 30,
    # every request knows its start URL: the summary counts posts per start URL (crawlers/progress.py)
    "crawlers.progress.StartUrlMiddleware": 40,
    # the name each site gives itself, for SiteNamePipeline (crawlers/sitenames.py)
    "crawlers.sitenames.SiteNameMiddleware": 50,
}

# Several workers on one shared frontier: `crawl --frontier redis://HOST:PORT/DB`
# (or COMPLAINTWATCH_FRONTIER) swaps in scrapy-redis's queue and seen set with
# a reliable in-flight set per worker (crawlers/distributed.py). A worker
# closes once the shared queue has been empty, with nothing in flight at any
# worker, for FRONTIER_IDLE seconds; one whose heartbeat is older than
# FRONTIER_HEARTBEAT seconds is taken as stopped and its requests are requeued.
COMPLAINTWATCH_FRONTIER = ""
COMPLAINTWATCH_FRONTIER_IDLE = 30
COMPLAINTWATCH_FRONTIER_HEARTBEAT = 30

# Never fetch a URL on the store's takedown list; a page over DOWNLOAD_MAXSIZE
# is a logged skip (crawlers/middlewares.py). FrontierDownloaderMiddleware
# tells a JOBDIR crawl that a request failed for good.
# Scrapy's robots.txt, retry and redirect middlewares are replaced by
# subclasses that log every skip at INFO+ and honour Retry-After; a failed
# download is logged and counted by FailedDownloadMiddleware (outermost).
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.FailedDownloadMiddleware": 5,
    "crawlers.frontier.FrontierDownloaderMiddleware": 10,
    "crawlers.middlewares.TakedownMiddleware": 50,
    "crawlers.middlewares.SkipOversizeMiddleware": 60,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawlers.middlewares.LoggedRobotsTxtMiddleware": 100,
    "crawlers.middlewares.PageBudgetMiddleware": 120,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawlers.middlewares.LoggedRedirectMiddleware": 600,
}

# Bounds (crawlers/middlewares.py), each stop logged at WARNING and counted in
# the crawl summary: at most this many pages per site (host:port) per crawl
# (`--max-pages`), at most this many "next" pages in a row from one page
# (`--max-pagination-depth`), and a "next" page that repeats the content of an
# earlier page of its chain is not followed. 0 turns a limit off.
COMPLAINTWATCH_MAX_PAGES_PER_SITE = 20_000
COMPLAINTWATCH_MAX_PAGINATION_DEPTH = 500
COMPLAINTWATCH_PAGINATION_LOOPS = True

# Retry-After (seconds or HTTP-date) on 429/503 is honoured up to this many
# seconds; a server asking for longer gets the URL given up (logged, counted)
# rather than a retry it said not to send yet.
COMPLAINTWATCH_RETRY_AFTER_MAX = 120

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.SourceCompanyPipeline": 150,
    "crawlers.pipelines.DatePipeline": 200,
    "crawlers.pipelines.SiteNamePipeline": 250,
    "crawlers.pipelines.BuildPostPipeline": 300,
    "crawlers.pipelines.StorePipeline": 900,
}

# No way in from outside while a crawl runs: Scrapy's telnet console and its
# remote-control HTTP server (which runs posted Python code) are off.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "crawlers.progress.CrawlProgress": 500,
}

# Where StorePipeline writes; the CLI sets it from --store.
COMPLAINTWATCH_STORE = "sqlite:///complaintwatch.db"
COMPLAINTWATCH_STORE_BATCH = 200
# the company a source is about (`crawl --about`): crawlers.pipelines.SourceCompanyPipeline
COMPLAINTWATCH_SOURCE_COMPANY = ""
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
