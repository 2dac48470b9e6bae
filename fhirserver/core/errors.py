"""The FHIR core's errors are the ones resources/ defines (validation raises them too); re-exported here
so the core and everything above it keep one import."""
from resources.errors import FhirError, bad_request, not_found, operation_outcome, outcome_info

__all__ = ["FhirError", "bad_request", "not_found", "operation_outcome", "outcome_info"]
