"""Bulk Data Access (HL7 FHIR Bulk Data IG, STU 2): `$export` at system, Patient and Group level, and
NDJSON import. See docs/bulk.md.

    kickoff  - the kick-off request read and checked: an `ExportJob` row, or a 4xx
    scope    - which stored rows an export holds (types, compartments, Group members, references)
    files    - NDJSON parts written through Django's storage API, split at a size
    export   - the job itself, on fhirserver.jobs: claim, stream, manifest
    status   - the status URL's answers (202 / 200 manifest / error), DELETE, file download
    importer - NDJSON in through the repository's write path (validated, indexed)
"""
