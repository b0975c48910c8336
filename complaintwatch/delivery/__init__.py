"""Alert delivery: e-mail (SMTP) and signed webhooks, spikes at once and a
daily digest, each delivery once even across restarts.

    from complaintwatch.delivery import deliver_due
    report = deliver_due(store, settings)   # what the scheduler and `complaintwatch deliver` call
"""

from .models import DeliveryReport, DeliverySettings
from .run import deliver_due

__all__ = ["DeliveryReport", "DeliverySettings", "deliver_due"]
