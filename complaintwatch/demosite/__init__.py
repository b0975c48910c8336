"""The bundled demo: three fake complaint sites (WordPress blog, XenForo
forum, Trustpilot-like reviews) about fictional companies, served on
127.0.0.1 so `complaintwatch demo` can crawl them with the real spiders.

    sites = build_demo_sites(tmp)              # static files + truth.json
    with serve_demo_sites(sites) as server:    # one port per site
        server.start_urls["forum"]             # ["http://127.0.0.1:PORT/sitemap.xml"]
    truth_manifest(sites)                      # what a correct crawl must find
"""

from .build import DemoSite, build_demo_sites, truth_manifest
from .companies import COMPANIES, COMPANY_BY_ID, INCIDENT_TYPES, Company
from .server import DemoServer, serve_demo_sites
from .truth import TruthPost

__all__ = [
    "COMPANIES",
    "COMPANY_BY_ID",
    "INCIDENT_TYPES",
    "Company",
    "DemoServer",
    "DemoSite",
    "TruthPost",
    "build_demo_sites",
    "serve_demo_sites",
    "truth_manifest",
]
