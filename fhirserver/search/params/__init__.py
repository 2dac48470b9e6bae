"""One module per search-parameter type, each with one `ParamType` subclass (base.py) holding what
the type is: index table, extraction (write), condition (read), sort column, `:missing`, and the
`_filter` operations it answers. `TYPES` is the one table from a type's name to it."""
from __future__ import annotations

from . import composite, date, number, quantity, reference, special, string, token, uri
from .base import Condition, ParamType  # noqa: F401  (what the compiler builds with)

TYPES: dict[str, ParamType] = {
    t.name: t
    for t in (string.TYPE, token.TYPE, date.TYPE, number.TYPE, quantity.TYPE, reference.TYPE, uri.TYPE,
              composite.TYPE, special.TYPE)
}
INDEX_MODELS = {name: t.model for name, t in TYPES.items()}  # the index tables, by parameter type
