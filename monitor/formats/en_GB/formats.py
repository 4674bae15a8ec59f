"""The admin's formats (it is shown in en-GB, monitor/evidence/admin_time.py): day first, 24-hour times,
and the zone's abbreviation after a time, so a monitor never reads 03/05 as the fifth of March by
mistake or a Kabul time as UTC. What is not set here is Django's own en_GB."""

DATETIME_FORMAT = "j M Y, H:i T"  # '5 Mar 2020, 08:00 +0430'
SHORT_DATETIME_FORMAT = "d/m/Y H:i T"
TIME_FORMAT = "H:i"
# The first is how the admin's date and time boxes show a value; ISO dates are accepted too.
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%d %b %Y", "%d/%m/%y"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]
