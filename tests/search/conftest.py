import pytest

from fhirserver.storage import repository


@pytest.fixture
def store(db):
    """Create a resource through the server's own write path; returns its stored content."""
    def create(resource: dict, id: str | None = None) -> dict:
        resource = dict(resource)
        rtype = resource["resourceType"]
        if id:
            return repository.update(rtype, id, {**resource, "id": id})[0].content
        return repository.create(rtype, resource).content

    return create
