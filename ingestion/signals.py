"""What a `$digitize` job tells the apps above it, so that ingestion never imports them (layers look down).

`document_read(job, data, document)`: sent in the job's reading stage once the document tree is read, in
the process that runs the job; the review app stores its page images then (review.pages). Receivers run
through `send_robust`: one that fails is logged and the job goes on.
"""
from django.dispatch import Signal

document_read = Signal()
