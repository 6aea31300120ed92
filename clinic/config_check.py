"""What a device config may name in its clinic: the rooms of its buttons and the LAN
fallback hosts. Each room and host is read once per checker, so checking a fleet's worth
of configs costs a read per distinct room or host, not per device."""

from __future__ import annotations

from clinic.principals import RoomKind
from clinic.storage import Storage
from kiosk.signalling.device_config import DeviceConfig

JOINABLE = (RoomKind.MEETING_ROOM, RoomKind.USER_ROOM)


class ConfigChecker:
    def __init__(self, storage: Storage, clinic_id: str) -> None:
        self._storage = storage
        self._clinic_id = clinic_id
        self._rooms: dict[str, bool] = {}  # room id -> a joinable room of the clinic
        self._hosts: dict[str, bool] = {}  # device id -> an unrevoked device of the clinic

    async def problems(self, config: DeviceConfig) -> list[str]:
        """Every reference of ``config`` that does not hold, one line each."""
        wrong = []
        for number, button in sorted(config.buttons.items()):
            if button.room_id is not None and not await self._joinable(button.room_id):
                wrong.append(
                    f"buttons.{number}.room_id: no meeting room or user room "
                    f"{button.room_id} in this clinic"
                )
        unknown = {h for h in config.fallback.hosts if h not in self._hosts}
        if unknown:
            found = await self._storage.devices_in_clinic(self._clinic_id, unknown)
            self._hosts.update({h: h in found for h in unknown})
        wrong += [
            f"fallback.hosts.{i}: no device {host} in this clinic"
            for i, host in enumerate(config.fallback.hosts)
            if not self._hosts[host]
        ]
        return wrong

    async def _joinable(self, room_id: str) -> bool:
        if room_id not in self._rooms:
            room = await self._storage.room(room_id)
            self._rooms[room_id] = (
                room is not None and room.clinic_id == self._clinic_id and room.kind in JOINABLE
            )
        return self._rooms[room_id]
