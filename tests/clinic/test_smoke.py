import pytest

from tests.clinic_server import ClinicFixture, ClinicServer


@pytest.fixture
def clinic_server(clinic_server_any: ClinicServer) -> ClinicServer:
    """Every test here runs on SQLite and on PostgreSQL (tests/postgres.py)."""
    return clinic_server_any


async def test_member_lists_rooms(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    rooms = await clinic_server.ok("GET", f"/clinics/{clinic.clinic_id}/rooms", clinic.member.token)
    assert {r["kind"] for r in rooms} == {"waiting_area", "meeting_room", "user_room"}
