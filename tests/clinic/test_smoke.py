from tests.clinic_server import ClinicFixture, ClinicServer


async def test_member_lists_rooms(clinic_server: ClinicServer, clinic: ClinicFixture) -> None:
    rooms = await clinic_server.ok("GET", f"/clinics/{clinic.clinic_id}/rooms", clinic.member.token)
    assert {r["kind"] for r in rooms} == {"waiting_area", "meeting_room", "user_room"}
