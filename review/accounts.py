"""Clinician accounts: a Django user in the `clinician` group, linked (fhirUser) to a Practitioner."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from fhirserver.search import api as search_api
from fhirserver.security.models import FhirUser
from fhirserver.storage import repository
from review.access import clinician_group

USER_IDENTIFIER_SYSTEM = "urn:fhir-digitize:user"  # Practitioner.identifier naming the Django account


@dataclass
class Clinician:
    username: str
    practitioner: str  # "Practitioner/<id>"


@transaction.atomic
def clinician_create(*, username: str, password: str | None = None, full_name: str = "") -> Clinician:
    user, _ = get_user_model().objects.get_or_create(username=username)
    if full_name:
        first, _, last = full_name.strip().rpartition(" ")
        user.first_name, user.last_name = first, last
    if password:
        user.set_password(password)
    elif not user.has_usable_password():
        user.set_unusable_password()
    user.save()
    user.groups.add(clinician_group())
    return Clinician(username=username, practitioner=practitioner_of(user))


def practitioner_of(user) -> str:
    """The account's Practitioner: the linked one, else the one naming the account, else a new one (then linked)."""
    link = FhirUser.objects.filter(user=user).first()
    if link and link.resource.startswith("Practitioner/"):
        current = repository.current("Practitioner", link.resource.split("/", 1)[1])
        if current and not current.deleted:
            return link.resource
    with repository.write_transaction():
        repository.lock_key(f"practitioner-of:{user.get_username()}")
        found = search_api.match_records(
            "Practitioner", [("identifier", f"{USER_IDENTIFIER_SYSTEM}|{user.get_username()}")]
        )
        if found:
            reference = f"Practitioner/{found[0].logical_id}"
        else:
            reference = repository.create("Practitioner", practitioner_resource(user)).location.split("/_history")[0]
        if link is None:
            FhirUser.objects.create(user=user, resource=reference)
    return reference


def practitioner_resource(user) -> dict:
    display = display_name(user)
    name: dict = {"text": display}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = user.first_name.split()
    return {"resourceType": "Practitioner", "active": True,
            "identifier": [{"system": USER_IDENTIFIER_SYSTEM, "value": user.get_username()}], "name": [name]}


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()
