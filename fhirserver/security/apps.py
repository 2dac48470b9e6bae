from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "fhirserver.security"
    label = "security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fhirserver.security import tokens  # noqa: F401 - connects the token-cache invalidation signals
