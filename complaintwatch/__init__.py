"""complaintwatch: a public review and complaint aggregator."""

__version__ = "0.1.0"
