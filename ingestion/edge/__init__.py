"""$digitize's edge: the operation over HTTP, uploads, the status URL and the job machinery."""
