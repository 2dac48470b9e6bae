"""Where `$digitize` jobs run: an in-process pool by default, Celery workers when a broker is configured.

`queue.enqueue(job_id)` is the one entry point; `pool` holds the reader processes that keep OCR out
of web request threads; `celery_app` is the Celery application (`celery -A ingestion.edge.jobs.celery_app worker`).
"""
