"""Each clinic's Ed25519 signing key, loaded once per process, and join tokens made with it."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clinic.errors import NotFoundError
from clinic.storage import Storage
from kiosk.signalling import resume, tokens
from kiosk.signalling.messages import Role
from kiosk.signalling.tokens import JoinClaims, TokenError


class ClinicKeys:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self._resume: dict[str, bytes] = {}

    async def private_key(self, clinic_id: str) -> Ed25519PrivateKey:
        key = self._keys.get(clinic_id)
        if key is None:
            pem = await self._storage.clinic_signing_key(clinic_id)
            if pem is None:
                raise NotFoundError(f"no clinic {clinic_id}")
            key = self._keys[clinic_id] = tokens.load_private_key(pem)
        return key

    async def resume_secret(self, claims: JoinClaims) -> bytes:
        """For the hub: resume keys outlive a restart, as the clinic's key does."""
        secret = self._resume.get(claims.clinic_id)
        if secret is None:
            secret = resume.secret_of(await self.private_key(claims.clinic_id))
            self._resume[claims.clinic_id] = secret
        return secret

    async def public_key_pem(self, clinic_id: str) -> str:
        return tokens.public_key_pem((await self.private_key(clinic_id)).public_key())

    async def sign_join(
        self,
        *,
        clinic_id: str,
        room_id: str,
        subject: str,
        name: str,
        role: Role,
        ttl_s: int = tokens.JOIN_TOKEN_TTL_S,
    ) -> tuple[str, int]:
        key = await self.private_key(clinic_id)
        return tokens.sign(
            key,
            subject=subject,
            name=name,
            role=role,
            clinic_id=clinic_id,
            room_id=room_id,
            ttl_s=ttl_s,
        )

    async def verify_join(self, token: str) -> JoinClaims:
        """For the hub: a token signed by the clinic it names, of a device that is still
        enrolled, or TokenError."""
        clinic_id = tokens.unverified_clinic(token)
        try:
            key = await self.private_key(clinic_id)
        except NotFoundError:
            raise TokenError("join token of an unknown clinic") from None
        claims = tokens.verify(token, key.public_key())
        if claims.role is Role.DEVICE:
            device = await self._storage.device(claims.subject)
            if device is None or device.revoked:
                raise TokenError("this device was revoked by the clinic")
        return claims
