"""Request bodies of the HTTP API (PROTOCOL.md section 1), validated with pydantic."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from clinic.principals import MemberRole


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Login(_Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class NewMember(_Body):
    email: EmailStr
    name: str = Field(min_length=1, max_length=100)
    role: MemberRole
    password: str = Field(min_length=12, max_length=1024)


class NewRoom(_Body):
    kind: Literal["meeting_room", "user_room"]
    name: str = Field(min_length=1, max_length=100)
    owner_id: str | None = Field(None, max_length=64)


class GuestJoin(_Body):
    guest_token: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=100)


class EnterWaitingArea(_Body):
    name: str = Field(min_length=1, max_length=100)
