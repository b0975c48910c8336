"""Incident types: the list and one type's page."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from ..reports import incident_report, incidents_by_id
from ..services import store

bp = Blueprint("incidents", __name__)


@bp.get("/incidents")
def incidents():
    return render_template("incidents.html", incidents=store().incidents())


@bp.get("/incident/<int:incident_id>")
def incident(incident_id: int):
    incs = incidents_by_id()
    inc = incs.get(incident_id)
    if inc is None:
        abort(404, description="No such incident type.")
    return render_template("incident.html", report=incident_report(inc), incidents=incs)
