"""SMART on FHIR security: OAuth2 (django-oauth-toolkit), scopes enforced on every path, audit."""
