"""Drive the dav plugin with python3-caldav (Debian's 0.11).

Run by TestPythonCalDAV with DAV_URL, DAV_USER and DAV_PASS set. Prints
one line per check and exits non-zero at the first failure.
"""

import datetime
import os
import sys

import caldav
from caldav.lib import error

URL, USER, PASS = os.environ["DAV_URL"], os.environ["DAV_USER"], os.environ["DAV_PASS"]
UTC = datetime.timezone.utc


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


def dt(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def uids(objs):
    out = set()
    for o in objs:
        for comp in o.icalendar_instance.walk():
            if comp.name in ("VEVENT", "VTODO"):
                out.add(str(comp["UID"]))
    return out


def vcal(body):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mycelium test//EN\r\n" + body + "END:VCALENDAR\r\n"


BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)

EVENTS = {
    "utc-event": vcal(
        "BEGIN:VEVENT\r\nUID:utc-event\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART:20240301T100000Z\r\nDTEND:20240301T110000Z\r\nSUMMARY:UTC meeting\r\nEND:VEVENT\r\n"
    ),
    "allday-event": vcal(
        "BEGIN:VEVENT\r\nUID:allday-event\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART;VALUE=DATE:20240305\r\nDTEND;VALUE=DATE:20240306\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n"
    ),
    "weekly-event": vcal(
        "BEGIN:VEVENT\r\nUID:weekly-event\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART:20240101T090000Z\r\nDTEND:20240101T093000Z\r\nRRULE:FREQ=WEEKLY;COUNT=52\r\n"
        "SUMMARY:Weekly standup\r\nEND:VEVENT\r\n"
    ),
    "berlin-event": vcal(
        BERLIN + "BEGIN:VEVENT\r\nUID:berlin-event\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20240708T090000\r\nDTEND;TZID=Europe/Berlin:20240708T100000\r\n"
        "SUMMARY:Berlin summer morning\r\nEND:VEVENT\r\n"
    ),
}


def main():
    bad = caldav.DAVClient(url=URL, username=USER, password="wrong password")
    try:
        bad.principal()
        check(False, "wrong password is refused")
    except error.AuthorizationError:
        check(True, "wrong password is refused with 401")

    client = caldav.DAVClient(url=URL, username=USER, password=PASS)
    principal = client.principal()
    check(str(principal.url).endswith("/principals/%s/" % USER), "principal URL %s" % principal.url)
    names = [c.get_display_name() for c in principal.calendars()]
    check("Personal" in names, "default calendar listed: %s" % names)

    cal = principal.make_calendar(name="Python Test", cal_id="pytest")
    check(cal.get_display_name() == "Python Test", "MKCALENDAR with displayname")
    check(any(str(c.url) == str(cal.url) for c in principal.calendars()), "new calendar listed")

    events = {uid: cal.save_event(ics) for uid, ics in EVENTS.items()}
    check(len(cal.events()) == 4, "four events stored")

    found = cal.date_search(dt(2024, 3, 1), dt(2024, 3, 2), expand=False)
    check(uids(found) == {"utc-event"}, "UTC time range: %s" % uids(found))

    found = cal.date_search(dt(2024, 3, 5, 12), dt(2024, 3, 5, 13), expand=False)
    check(uids(found) == {"allday-event"}, "all-day event in range: %s" % uids(found))

    found = cal.search(start=dt(2024, 3, 4), end=dt(2024, 3, 5), event=True, expand=True)
    check(uids(found) == {"weekly-event"}, "one occurrence of the weekly event: %s" % uids(found))
    check(len(found) == 1, "exactly one expanded occurrence (%d)" % len(found))
    occ = [c for c in found[0].icalendar_instance.walk() if c.name == "VEVENT"][0]
    check(occ.get("RECURRENCE-ID") is not None, "occurrence has RECURRENCE-ID")
    check(occ["DTSTART"].dt == dt(2024, 3, 4, 9), "occurrence starts 2024-03-04 09:00Z: %s" % occ["DTSTART"].dt)

    found = cal.date_search(dt(2024, 1, 2), dt(2024, 1, 8), expand=False)
    check(uids(found) == set(), "no event between weekly occurrences: %s" % uids(found))

    found = cal.date_search(dt(2024, 7, 8, 6, 30), dt(2024, 7, 8, 7, 30), expand=False)
    check(uids(found) == {"berlin-event"}, "TZID event at 07:00Z (09:00 CEST): %s" % uids(found))
    found = cal.date_search(dt(2024, 7, 8, 8, 0), dt(2024, 7, 8, 8, 45), expand=False)
    check(uids(found) == set(), "TZID event not at 08:00Z (it would be at UTC+1): %s" % uids(found))

    # A sync-collection baseline, then a change and a deletion.
    sync = cal.objects(load_objects=False)
    token = sync.sync_token
    check(token.startswith("http"), "sync token %s" % token)

    ev = cal.event_by_uid("utc-event")
    ev.vobject_instance.vevent.summary.value = "UTC meeting, moved room"
    ev.save()
    ev = cal.event_by_uid("utc-event")
    check(ev.vobject_instance.vevent.summary.value == "UTC meeting, moved room", "modified event reads back")

    delta = list(cal.objects_by_sync_token(token, load_objects=False))
    check(len(delta) == 1 and str(delta[0].url) == str(ev.url), "delta holds only the change: %s" % [str(d.url) for d in delta])

    updated, deleted = sync.sync()
    check(len(updated) == 1 and not deleted, "sync(): one updated, none deleted")

    gone = cal.event_by_uid("allday-event")
    gone.delete()
    try:
        cal.event_by_uid("allday-event")
        check(False, "deleted event is gone")
    except error.NotFoundError:
        check(True, "deleted event is gone")
    updated, deleted = sync.sync()
    check(not updated and len(deleted) == 1 and str(deleted[0].url) == str(gone.url), "sync(): deletion shows up")

    try:
        cal.objects_by_sync_token("http://example.com/not-a-token", load_objects=False)
        check(False, "foreign sync token refused")
    except error.DAVError:
        check(True, "foreign sync token refused")

    # To-dos (Reminders/Tasks).
    todo = cal.save_todo(vcal(
        "BEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Buy milk\r\n"
        "DUE:20240310T170000Z\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"
    ))
    check(uids(cal.todos()) == {"todo-1"}, "open to-do listed")
    todo.complete()
    check(uids(cal.todos()) == set(), "completed to-do not listed")
    check(uids(cal.todos(include_completed=True)) == {"todo-1"}, "completed to-do with include_completed")

    for e in cal.events():
        e.delete()
    check(len(cal.events()) == 0, "events deleted")
    cal.delete()
    check(all(str(c.url) != str(cal.url) for c in principal.calendars()), "calendar deleted")
    print("ALL OK")


if __name__ == "__main__":
    main()
