"""`@url` for `scrapy check` that points the spiders' contracts (written for
http://127.0.0.1:8765/<saved page>) at wherever the test serves ../shared/pages,
so the check never depends on a fixed port being free."""

from __future__ import annotations

import os
from typing import Any

from scrapy.contracts.default import UrlContract

DOCUMENTED = "http://127.0.0.1:8765"


class LocalUrlContract(UrlContract):
    name = "url"

    def adjust_request_args(self, args: dict[str, Any]) -> dict[str, Any]:
        args = super().adjust_request_args(args)
        args["url"] = args["url"].replace(DOCUMENTED, os.environ.get("CW_CONTRACT_BASE", DOCUMENTED), 1)
        return args
