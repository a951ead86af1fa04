"""The one error tree of modelyard.

Every error carries an MLflow-compatible ``error_code`` and an HTTP ``status``;
the server renders them as ``{"error_code": ..., "message": ...}`` and the SDK
maps a response back to the same class::

    ModelyardError                      INTERNAL_ERROR            500
    ├── InvalidParameterValue           INVALID_PARAMETER_VALUE   400
    │   └── MalformedRequest            MALFORMED_REQUEST         400
    ├── ResourceDoesNotExist            RESOURCE_DOES_NOT_EXIST   404
    ├── ResourceAlreadyExists           RESOURCE_ALREADY_EXISTS   400
    ├── InvalidState                    INVALID_STATE             400
    ├── EndpointNotFound                ENDPOINT_NOT_FOUND        404
    ├── RequestTooLarge                 REQUEST_LIMIT_EXCEEDED    413
    ├── PermissionDenied                PERMISSION_DENIED         403
    │   └── UntrustedModel              PERMISSION_DENIED         403
    ├── TemporarilyUnavailable          TEMPORARILY_UNAVAILABLE   503
    └── MissingExtra                    NOT_IMPLEMENTED           501
"""

from __future__ import annotations


class ModelyardError(Exception):
    """Base of every modelyard error."""

    error_code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


class InvalidParameterValue(ModelyardError):
    error_code = "INVALID_PARAMETER_VALUE"
    status = 400


class MalformedRequest(InvalidParameterValue):
    error_code = "MALFORMED_REQUEST"
    status = 400


class ResourceDoesNotExist(ModelyardError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    status = 404


class ResourceAlreadyExists(ModelyardError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    status = 400


class InvalidState(ModelyardError):
    error_code = "INVALID_STATE"
    status = 400


class EndpointNotFound(ModelyardError):
    error_code = "ENDPOINT_NOT_FOUND"
    status = 404


class RequestTooLarge(ModelyardError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    status = 413


class PermissionDenied(ModelyardError):
    error_code = "PERMISSION_DENIED"
    status = 403


class UntrustedModel(PermissionDenied):
    """A model this process refuses to load: pickled where pickles are not allowed, or an untrusted skops type.

    ``reason`` is ``"pickle"`` or ``"skops_type"`` (a label of the serving metrics).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TemporarilyUnavailable(ModelyardError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    status = 503


class Unauthenticated(ModelyardError):
    """No credentials, or credentials that do not verify (401, with a WWW-Authenticate challenge)."""

    error_code = "UNAUTHENTICATED"
    status = 401


class TooManyAttempts(ModelyardError):
    """Failed logins came too fast: wait, then try again (429, with Retry-After)."""

    error_code = "REQUEST_LIMIT_EXCEEDED"
    status = 429


class MissingExtra(ModelyardError):
    """An optional dependency is not installed; the message names the extra (``pip install 'modelyard[s3]'``)."""

    error_code = "NOT_IMPLEMENTED"
    status = 501


_BY_CODE: dict[str, type[ModelyardError]] = {
    cls.error_code: cls
    for cls in (
        ModelyardError,
        InvalidParameterValue,
        MalformedRequest,
        ResourceDoesNotExist,
        ResourceAlreadyExists,
        InvalidState,
        EndpointNotFound,
        RequestTooLarge,
        PermissionDenied,
        TemporarilyUnavailable,
        Unauthenticated,
    )
}
# Codes MLflow uses that we fold into our classes.
_BY_CODE.update({"BAD_REQUEST": InvalidParameterValue, "INVALID_PARAMETER": InvalidParameterValue})


def error_from_code(error_code: str, message: str) -> ModelyardError:
    """Build the error class that matches an MLflow-style ``error_code``."""
    cls = _BY_CODE.get(error_code, ModelyardError)
    err = cls(message)
    if cls is ModelyardError and error_code:
        err.error_code = error_code
    return err
