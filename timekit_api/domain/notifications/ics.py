"""A booking as an iCalendar file: the email attachment and ``GET /v2/bookings/{id}/calendar.ics``.

Input is the booking's wire JSON (contract section 5), so this works the same whether the caller has
a model object or a stored webhook body.
"""

from __future__ import annotations

from datetime import UTC, datetime

DEFAULT_UID_DOMAIN = "timekit-api"
MIME_TYPE = "text/calendar"

# Which calendar status a booking state means; states not listed (e.g. initialized) are tentative.
_CONFIRMED = {"confirmed", "paid", "completed"}
_CANCELLED = {"cancelled", "cancelled_by_customer", "cancelled_by_owner", "declined", "unpaid"}


def calendar_status(state: str) -> str:
    """CONFIRMED / TENTATIVE / CANCELLED for a booking state."""
    if state in _CONFIRMED:
        return "CONFIRMED"
    if state in _CANCELLED:
        return "CANCELLED"
    return "TENTATIVE"


def parse_time(value: str) -> datetime:
    """RFC 3339 to an aware UTC datetime; a value without offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def booking_calendar(
    booking: dict,
    *,
    prodid: str,
    organizer_email: str | None = None,
    uid_domain: str = DEFAULT_UID_DOMAIN,
    sequence: int = 0,
    now: datetime | None = None,
) -> bytes:
    """One VCALENDAR with one VEVENT; METHOD CANCEL for a cancelled booking, else PUBLISH.

    The UID is stable per booking so a later file (confirmed, then cancelled) updates the same
    calendar entry; pass a growing ``sequence`` (e.g. the number of transitions) for that.
    """
    # icalendar (4 MiB) is loaded by the first calendar, not by every process serving bookings
    from icalendar import Calendar, Event, vCalAddress, vText

    info = booking.get("attributes", {}).get("event_info", {})
    status = calendar_status(booking.get("state", ""))

    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if status == "CANCELLED" else "PUBLISH")

    event = Event()
    event.add("uid", f"{booking['id']}@{uid_domain}")
    stamp = booking.get("updated_at")
    event.add("dtstamp", parse_time(stamp) if stamp else (now or datetime.now(UTC)))
    if booking.get("created_at"):
        event.add("created", parse_time(booking["created_at"]))
    event.add("dtstart", parse_time(info["start"]))
    event.add("dtend", parse_time(info["end"]))
    event.add("summary", info.get("what") or "Booking")
    if info.get("where"):
        event.add("location", info["where"])
    if info.get("description"):
        event.add("description", info["description"])
    event.add("status", status)
    event.add("sequence", sequence)
    if organizer_email:
        event.add("organizer", vCalAddress(f"mailto:{organizer_email}"))
    for customer in booking.get("customers") or []:
        if not customer.get("email"):
            continue
        attendee = vCalAddress(f"mailto:{customer['email']}")
        if customer.get("name"):
            attendee.params["cn"] = vText(customer["name"])
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
