// Package calendar gives the DAV plugin its iCalendar semantics:
// validation of calendar object resources (RFC 4791 section 4.1), the
// CALDAV:filter of calendar-query with time ranges evaluated per RFC 4791
// section 9.9, recurrence expansion (RRULE through rrule-go, RDATE,
// EXDATE, RECURRENCE-ID overrides), time zones (IANA names, Windows
// names, and VTIMEZONE definitions for anything else) and the
// CALDAV:expand rewrite of query results.
//
// Wall-clock times are expanded as floating times and converted to
// instants per instance, so a weekly 09:00 Europe/Berlin event stays at
// 09:00 local time across DST changes.
package calendar
