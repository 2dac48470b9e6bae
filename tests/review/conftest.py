"""Fixtures for the review pages: a clinician, a signed-in client, reports read by the real reader."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_pdf
from ingestion import digitize
from ingestion.edge.jobs.pool import read_direct
from ingestion.edge.uploads import Upload
from review.accounts import clinician_create

PASSWORD = "correct horse battery"


@pytest.fixture
def clinician(db):
    clinician_create(username="dr.grey", password=PASSWORD, full_name="Meredith Grey")
    return get_user_model().objects.get(username="dr.grey")


@pytest.fixture
def reviewer(client, clinician):
    client.force_login(clinician)
    return client


def read_report(layout: str = "classic", seed: int = 1, *, subject: str | None = None, report=None):
    """A generated report through submit + run (the real reader, in this thread): (job, truth)."""
    layout_ = LAYOUTS[layout]
    truth = report or layout_.report(seed)
    job, _ = digitize.submit(
        Upload(
            data=render_pdf(truth, layout_),
            media_type="application/pdf",
            filename=f"{layout}-{seed}.pdf",
            subject=subject,
        ),
        base_url="http://testserver/fhir",
        requested_by="user:dr.grey",
    )
    return digitize.run(job.id, stages=digitize.default_stages(read=read_direct)), truth


@pytest.fixture
def read_job(db):
    job, truth = read_report()
    assert job.status == "done", job.error
    return job, truth
