"""Where `$digitize` jobs run: on the server's job system (fhirserver.jobs), in-process threads by
default, Celery workers when a broker is configured.

`queue.enqueue(job_id)` is the one entry point; `pool` holds the reader processes that keep OCR out
of web request threads.
"""
