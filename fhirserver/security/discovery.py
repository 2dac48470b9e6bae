"""What the server tells apps about its security: SMART configuration and the CapabilityStatement block."""
from __future__ import annotations

from urllib.parse import urlsplit

from fhirserver.security.scopes import NON_RESOURCE_SCOPES

CAPABILITIES = [
    "launch-standalone", "launch-ehr", "client-public", "client-confidential-symmetric",
    "client-confidential-asymmetric", "context-standalone-patient", "context-ehr-patient",
    "context-ehr-encounter", "permission-patient", "permission-user", "permission-v1", "permission-v2",
    "permission-offline", "permission-online", "sso-openid-connect",
]
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def endpoints(base_url: str) -> dict[str, str]:
    root = origin(base_url)
    return {
        "authorize": f"{root}/oauth2/authorize",
        "token": f"{root}/oauth2/token",
        "introspect": f"{root}/oauth2/introspect",
        "revoke": f"{root}/oauth2/revoke",
        "jwks": f"{root}/oauth2/.well-known/jwks.json",
        "userinfo": f"{root}/oauth2/userinfo",
        "launch": f"{root}/oauth2/launch",
    }


def smart_configuration(base_url: str) -> dict:
    urls = endpoints(base_url)
    return {
        "issuer": f"{origin(base_url)}/oauth2",
        "jwks_uri": urls["jwks"],
        "authorization_endpoint": urls["authorize"],
        "token_endpoint": urls["token"],
        "introspection_endpoint": urls["introspect"],
        "revocation_endpoint": urls["revoke"],
        "userinfo_endpoint": urls["userinfo"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": sorted(NON_RESOURCE_SCOPES) + [
            "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write", "user/*.*",
            "system/*.read", "system/*.write", "system/*.*", "patient/*.cruds", "user/*.cruds", "system/*.cruds",
            "patient/*.rs", "user/*.rs", "system/*.rs",
        ],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "capabilities": CAPABILITIES,
    }


def capability_security(base_url: str) -> dict:
    """CapabilityStatement.rest.security: the SMART service coding and the OAuth URIs extension."""
    urls = endpoints(base_url)
    return {
        "cors": True,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": OAUTH_URIS,
                "extension": [
                    {"url": "authorize", "valueUri": urls["authorize"]},
                    {"url": "token", "valueUri": urls["token"]},
                    {"url": "introspect", "valueUri": urls["introspect"]},
                    {"url": "revoke", "valueUri": urls["revoke"]},
                ],
            }
        ],
        "description": "SMART App Launch 2.x: bearer tokens from the authorization server at /oauth2; "
        "discovery at .well-known/smart-configuration",
    }
