"""The analytics role on SQLite (roles.AnalyticsStore): counts per company,
site, language and incident type in SQL, and a company's page aggregates over
its cached columns (company.py, kept per change marker by search_state.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ...stance import COMPLAINT
from ..roles import AnalyticsStore
from ..types import CompanyCounts, ComplaintReply, ComplaintSummary, IncidentStat, rank_company_counts
from .connection import SQLiteConnection


class SQLiteAnalytics(SQLiteConnection, AnalyticsStore):
    def companies(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT company, count(*) AS n FROM post_companies GROUP BY company ORDER BY n DESC, company"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def company_counts(self) -> list[CompanyCounts]:
        rows = self.db.execute(
            "SELECT c.company,"
            " sum(p.parent_url IS NULL AND NOT p.is_company_reply),"
            " sum(p.parent_url IS NOT NULL AND NOT p.is_company_reply),"
            " sum(p.is_company_reply != 0)"
            " FROM post_companies c JOIN posts p ON p.id = c.post_id GROUP BY c.company"
        ).fetchall()
        return rank_company_counts(CompanyCounts(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows)

    def sites(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT source_site, count(*) AS n FROM posts GROUP BY source_site ORDER BY n DESC, source_site"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def languages(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT language, count(*) AS n FROM posts WHERE language IS NOT NULL AND language != ''"
            " GROUP BY language ORDER BY n DESC, language"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def company_incident_stats(self, company: str) -> list[IncidentStat]:
        # a story posted on several URLs (same content_hash) counts once; only
        # complaints count (stance None: not classified yet, an older database).
        # Over the company's cached columns (company.py)
        return self.search_state().company(self.db, company).incident_stats()

    def company_complaint_months(self, company: str) -> dict[str, int]:
        return self.search_state().company(self.db, company).complaint_months()

    def company_reply_stats(self, company: str) -> tuple[int, int]:
        return self.search_state().company(self.db, company).reply_stats()

    def company_complaint_replies(self, company: str) -> list[ComplaintReply]:
        return self.search_state().company(self.db, company).complaint_replies(self.db)

    def company_complaint_summary(self, company: str, unanswered: int = 10) -> ComplaintSummary:
        return self.search_state().company(self.db, company).summary(self.db, unanswered)

    def company_stance_counts(self, company: str) -> dict[str, int]:
        return self.search_state().company(self.db, company).stance_counts()

    def company_reply_months(self, company: str) -> dict[str, int]:
        return self.search_state().company(self.db, company).reply_months()

    def complaint_incident_counts(self, companies: Iterable[str]) -> tuple[int, dict[int, int]]:
        companies = list(dict.fromkeys(companies))
        if not companies:
            return 0, {}
        marks = ",".join("?" * len(companies))
        where = (
            " FROM posts p WHERE p.parent_url IS NULL AND p.is_company_reply = 0"
            " AND (p.stance IS NULL OR p.stance = ?)"
            f" AND p.id IN (SELECT post_id FROM post_companies WHERE company IN ({marks}))"
        )
        args = (COMPLAINT, *companies)
        total = self.db.execute(f"SELECT count(DISTINCT p.content_hash){where}", args).fetchone()[0]
        rows = self.db.execute(
            f"SELECT p.incident_id, count(DISTINCT p.content_hash){where} AND p.incident_id IS NOT NULL"
            " GROUP BY p.incident_id",
            args,
        )
        return int(total), {int(r[0]): int(r[1]) for r in rows}

    def incident_company_counts(self, incident_id: int) -> list[tuple[str, int]]:
        rows = self.db.execute(
            # a story posted on several URLs (same content_hash) counts once, as in company_incident_stats
            "SELECT c.company, count(DISTINCT p.content_hash) AS n FROM posts p JOIN post_companies c"
            " ON c.post_id = p.id WHERE p.incident_id = ? AND p.parent_url IS NULL"
            " GROUP BY c.company ORDER BY n DESC, c.company",
            (int(incident_id),),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    # display names by company id: a table of its own, made on first write (no schema version:
    # an older complaintwatch opening the file ignores it)
    def set_company_names(self, names: dict[str, str]) -> None:
        with self.db as db:
            db.execute("CREATE TABLE IF NOT EXISTS company_names (company TEXT PRIMARY KEY, name TEXT NOT NULL)")
            db.executemany(
                "INSERT INTO company_names (company, name) VALUES (?, ?)"
                " ON CONFLICT (company) DO UPDATE SET name = excluded.name",
                [(str(k), str(v)) for k, v in names.items() if k and v],
            )

    def company_names(self) -> dict[str, str]:
        try:
            return dict(self.db.execute("SELECT company, name FROM company_names").fetchall())
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return {}
            raise
