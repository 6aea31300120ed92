"""The clinic service's errors; each maps to one contract error code and HTTP status."""

from __future__ import annotations


class ClinicError(Exception):
    """Root of every error the clinic service answers with; ``code`` is the contract's."""

    status = 500
    code = "internal"


class UnauthorizedError(ClinicError, PermissionError):
    status, code = 401, "unauthorized"


class InvalidCodeError(ClinicError, PermissionError):
    status, code = 401, "invalid_code"


class ForbiddenError(ClinicError, PermissionError):
    status, code = 403, "forbidden"


class NotFoundError(ClinicError, LookupError):
    status, code = 404, "not_found"


class ConflictError(ClinicError, ValueError):
    status, code = 409, "conflict"


class InvalidError(ClinicError, ValueError):
    """Request data that breaks the contract; ``problems`` lists every one."""

    status, code = 422, "invalid"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class RateLimitedError(ClinicError):
    """Too many attempts; ``retry_after_s`` is how long until the next one may pass."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after_s: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
