"""`manage.py check` (and every server start): the terminology packages that required-binding
validation and the terminology operations read must be installed (`make install` puts them in var/)."""

from __future__ import annotations

from django.core.checks import Error, register

from resources.terminology import packages


@register()
def terminology_packages_installed(app_configs, **kwargs) -> list[Error]:
    found = {path.parent.name for path in packages.package_dirs()}
    missing = [name for name in packages.PACKAGES if name not in found]
    if not missing:
        return []
    return [
        Error(
            f"FHIR package {name} is not installed under var/ (validation of required bindings needs it)",
            hint="run `make install`",
            id="fhirserver.E001",
        )
        for name in missing
    ]
