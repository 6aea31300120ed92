"""The device config the clinic admin sets (PROTOCOL.md section 3), shared by both ends:
the clinic validates what the admin sends, the device validates what it receives."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ButtonActionName = Literal["join", "leave", "toggle_mute", "toggle_camera", "answer_next_patient"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ButtonConfig(_Part):
    action: ButtonActionName
    room_id: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _room_only_for_join(self) -> Self:
        if self.action == "join" and self.room_id is None:
            raise ValueError("a join button needs a room_id")
        if self.action != "join" and self.room_id is not None:
            raise ValueError(f"a {self.action} button takes no room_id")
        return self


class VideoConfig(_Part):
    width: int = Field(1280, ge=160, le=1920, multiple_of=2)
    height: int = Field(720, ge=120, le=1080, multiple_of=2)
    fps: int = Field(30, ge=1, le=30)
    codec: Literal["H264", "VP8"] = "H264"
    max_bitrate_kbps: int = Field(1500, ge=100, le=8000)
    # the least the box sends each participant; a link that cannot carry it is reported
    min_bitrate_kbps: int = Field(150, ge=100, le=8000)

    @model_validator(mode="after")
    def _min_below_max(self) -> Self:
        if self.min_bitrate_kbps > self.max_bitrate_kbps:
            raise ValueError(
                f"min_bitrate_kbps ({self.min_bitrate_kbps}) is above "
                f"max_bitrate_kbps ({self.max_bitrate_kbps})"
            )
        return self


class AudioConfig(_Part):
    echo_cancellation: bool = True


class FallbackConfig(_Part):
    enabled: bool = False
    hosts: list[str] = Field(default_factory=list, max_length=16)
    port: int = Field(8765, ge=1024, le=65535)


class WaitingConfig(_Part):
    # a soft chime through the box's speaker when a patient arrives in an empty waiting
    # area while the box is idle
    chime: bool = False


class DeviceConfig(_Part):
    name: str = Field(min_length=1, max_length=100)
    buttons: dict[str, ButtonConfig] = Field(default_factory=dict)
    video: VideoConfig = VideoConfig()
    audio: AudioConfig = AudioConfig()
    auto_leave_minutes: int = Field(120, ge=1, le=720)
    heartbeat_seconds: int = Field(15, ge=2, le=300)
    fallback: FallbackConfig = FallbackConfig()
    waiting: WaitingConfig = WaitingConfig()

    @field_validator("buttons")
    @classmethod
    def _button_numbers(cls, value: dict[str, ButtonConfig]) -> dict[str, ButtonConfig]:
        bad = [k for k in value if not (k.isdigit() and 1 <= int(k) <= 99)]
        if bad:
            raise ValueError(f"buttons are named by their number 1-99, not {bad}")
        return value

    def rooms(self) -> frozenset[str]:
        """The rooms its buttons name: the only rooms this device may join."""
        return frozenset(b.room_id for b in self.buttons.values() if b.room_id is not None)
