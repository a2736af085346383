"""python3-caldav (Debian's 0.11) against another node's dav plugin over
the overlay, with no credentials: the caller's node key is its identity.

Run by TestCalDAVOverMesh with DAV_URL (http://[overlay address]:5232/)
and DAV_KEY (the caller's node key, 64 hex digits). Prints one line per
check and exits non-zero at the first failure.
"""

import datetime
import os
import sys

import caldav

URL, KEY = os.environ["DAV_URL"], os.environ["DAV_KEY"]
UTC = datetime.timezone.utc


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mycelium e2e//EN\r\n"
    "BEGIN:VEVENT\r\nUID:mesh-event-1\r\nDTSTAMP:20240101T000000Z\r\n"
    "DTSTART:20240301T100000Z\r\nDTEND:20240301T110000Z\r\n"
    "SUMMARY:Meeting over the mesh\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def main():
    client = caldav.DAVClient(url=URL)
    principal = client.principal()
    check(str(principal.url).endswith("/principals/%s/" % KEY), "principal is the node key: %s" % principal.url)
    names = [c.get_display_name() for c in principal.calendars()]
    check("Personal" in names, "default calendar listed: %s" % names)

    cal = principal.make_calendar(name="Mesh Calendar", cal_id="mesh")
    check(cal.get_display_name() == "Mesh Calendar", "MKCALENDAR with displayname")
    check(any(str(c.url) == str(cal.url) for c in principal.calendars()), "new calendar listed")

    cal.save_event(EVENT)
    ev = cal.event_by_uid("mesh-event-1")
    check(ev.vobject_instance.vevent.summary.value == "Meeting over the mesh", "event reads back")
    found = cal.date_search(datetime.datetime(2024, 3, 1, tzinfo=UTC), datetime.datetime(2024, 3, 2, tzinfo=UTC), expand=False)
    check([str(f.url) for f in found] == [str(ev.url)], "time-range REPORT finds it: %s" % [str(f.url) for f in found])
    print("ALL OK")


if __name__ == "__main__":
    main()
