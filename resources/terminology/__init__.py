"""Terminology over canonical resources: CodeSystem lookup and subsumption, ValueSet expansion and
membership, ConceptMap translation (the R4 terminology operations' logic, without HTTP or Django).

Content comes from a `Source`: a function `(resource_type, url, version) -> resource or None`. The
FHIR layer gives one that asks the stored resources first, then the packages this server ships
(`packages.py`: HL7 Terminology `hl7.terminology.r4`, the R4 core definitions). Required-binding
validation and the `:in`/`:not-in` search modifiers ask the same functions, so one engine decides
what a value set holds.
"""

from resources.terminology.codesystem import CodeSystemView, Concept
from resources.terminology.conceptmap import translate
from resources.terminology.errors import TerminologyError
from resources.terminology.valueset import Expansion, expand, implicit_value_set, validate_in_value_set

__all__ = [
    "CodeSystemView",
    "Concept",
    "Expansion",
    "TerminologyError",
    "expand",
    "implicit_value_set",
    "translate",
    "validate_in_value_set",
]
