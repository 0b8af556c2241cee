"""Investor meeting bot: reads an inbound investor email, finds free slots that fit both parties'
working hours and time zones in the founder's calendar, and drafts the reply proposing them.

Each tool runs alone in ara's sandbox, so it imports what it needs inside the function and reads
the shipped files (inbound.eml, founder.ics) from its working directory.
"""

from pathlib import Path

from ara_sdk import App, local_file, runtime

HERE = Path(__file__).parent

app = App(
    "Investor Meeting Bot",
    project_name="investor-meeting-bot",
    description="Turns an investor's meeting request into a reply proposing free slots.",
    interfaces={"inherit_owner_tools": False},
    runtime_profile=runtime(
        python_packages=["icalendar", "recurring-ical-events", "python-dateutil", "tzdata"],
        files=[
            local_file(HERE / "inbound.eml", "inbound.eml", executable=False),
            local_file(HERE / "founder.ics", "founder.ics", executable=False),
        ],
    ),
)


@app.tool()
def read_meeting_request(email_path: str = "inbound.eml") -> dict:
    """Read an inbound meeting-request email (RFC 822 .eml): who asks, for how long, in which date
    range and from which time zone."""
    import email
    import re
    from email import policy
    from email.utils import parseaddr, parsedate_to_datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo, available_timezones

    from dateutil import parser as dateparser

    with open(Path(email_path), "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=policy.default)
    part = msg.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    if part is not None and part.get_content_type() == "text/html":
        body = re.sub(r"<[^>]+>", " ", body)
    text = " ".join(body.split())

    requester_name, requester_email = parseaddr(str(msg["From"]))
    founder_name, founder_email = parseaddr(str(msg["To"]))

    zones = available_timezones()
    requester_timezone = next(
        (z for z in re.findall(r"\b[A-Z][A-Za-z_]+/[A-Za-z_]+(?:/[A-Za-z_]+)?\b", text) if z in zones), ""
    )
    if not requester_timezone:
        sent = parsedate_to_datetime(str(msg["Date"]))
        hours = int(sent.utcoffset().total_seconds() // 3600) if sent.utcoffset() else 0
        requester_timezone = "UTC" if hours == 0 else f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"
    ZoneInfo(requester_timezone)

    minutes = re.search(r"(\d{1,3})\s*(?:-\s*)?(?:minutes|minute|mins|min)\b", text, re.IGNORECASE)
    hours_match = re.search(r"\b(an|one|1|2|two)\s+hours?\b", text, re.IGNORECASE)
    if minutes:
        duration = int(minutes.group(1))
    elif hours_match:
        duration = 120 if hours_match.group(1).lower() in ("2", "two") else 60
    else:
        duration = 30

    month = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    date_pattern = rf"(?:\d{{1,2}}\s+{month}(?:\s+\d{{4}})?|{month}\s+\d{{1,2}}(?:,?\s+\d{{4}})?)"
    found = [
        dateparser.parse(d, default=parsedate_to_datetime(str(msg["Date"])).replace(tzinfo=None)).date()
        for d in re.findall(date_pattern, text)
    ]
    if not found:
        raise ValueError(
            "the email names no dates; expected a range such as 'between 1 December 2026 and 3 December 2026'"
        )
    window_start, window_end = min(found), max(found)

    return {
        "requester_name": requester_name or requester_email,
        "requester_email": requester_email,
        "founder_name": founder_name or founder_email,
        "founder_email": founder_email,
        "subject": str(msg["Subject"] or ""),
        "message_id": str(msg["Message-ID"] or ""),
        "requester_timezone": requester_timezone,
        "duration_minutes": duration,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
    }


@app.tool()
def find_free_slots(
    requester_timezone: str,
    duration_minutes: int,
    window_start: str,
    window_end: str,
    calendar_path: str = "founder.ics",
    founder_timezone: str = "",
    workday_start_hour: int = 9,
    workday_end_hour: int = 17,
    max_slots: int = 3,
) -> dict:
    """Find meeting slots free in the founder's calendar (.ics, recurring events expanded) that fall
    within both parties' working hours on weekdays between window_start and window_end (ISO dates)."""
    from datetime import date, datetime, time, timedelta
    from pathlib import Path
    from zoneinfo import ZoneInfo

    import icalendar
    import recurring_ical_events

    calendar = icalendar.Calendar.from_ical(Path(calendar_path).read_bytes())
    founder_tz_name = founder_timezone or str(calendar.get("X-WR-TIMEZONE") or "UTC")
    founder_tz, requester_tz = ZoneInfo(founder_tz_name), ZoneInfo(requester_timezone)
    first, last = date.fromisoformat(window_start), date.fromisoformat(window_end)
    length = timedelta(minutes=int(duration_minutes))
    step = timedelta(minutes=15)

    def aware(value, tz):
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=tz)
        return datetime.combine(value, time(0), tz)

    span_start = datetime.combine(first, time(0), founder_tz) - timedelta(days=1)
    span_end = datetime.combine(last, time(0), founder_tz) + timedelta(days=2)
    busy = []
    for event in recurring_ical_events.of(calendar).between(span_start, span_end):
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        start = aware(event.decoded("DTSTART"), founder_tz)
        end = aware(event.decoded("DTEND"), founder_tz) if event.get("DTEND") else start + timedelta(hours=1)
        busy.append((start, end, str(event.get("SUMMARY", "busy"))))

    def window(day, tz):
        return (
            datetime.combine(day, time(int(workday_start_hour)), tz),
            datetime.combine(day, time(int(workday_end_hour)), tz),
        )

    candidates = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            f_start, f_end = window(day, founder_tz)
            lo, hi = f_start, f_end
            for offset in (-1, 0, 1):  # the requester's working day may fall on the neighbouring date
                r_start, r_end = window(day + timedelta(days=offset), requester_tz)
                lo2, hi2 = max(f_start, r_start), min(f_end, r_end)
                if lo2 < hi2 and r_start.astimezone(requester_tz).weekday() < 5:
                    lo, hi = lo2, hi2
                    break
            else:
                lo, hi = f_end, f_end
            start = lo
            while start + length <= hi:
                end = start + length
                if all(end <= b_start or start >= b_end for b_start, b_end, _ in busy):
                    candidates.append((start, end))
                    start = end
                else:
                    start += step
        day += timedelta(days=1)

    chosen, days_used = [], set()
    for start, end in candidates:  # first the earliest slot of each day, then the rest
        if start.date() not in days_used and len(chosen) < int(max_slots):
            chosen.append((start, end))
            days_used.add(start.date())
    for slot in candidates:
        if len(chosen) >= int(max_slots):
            break
        if slot not in chosen:
            chosen.append(slot)
    chosen.sort()

    def label(moment, tz):
        local = moment.astimezone(tz)
        return local.strftime("%a %d %b, %H:%M ") + (local.tzname() or "")

    slots = [
        {
            "start_utc": s.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z"),
            "end_utc": e.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z"),
            "founder_local": label(s, founder_tz),
            "requester_local": label(s, requester_tz),
        }
        for s, e in chosen
    ]
    return {
        "founder_timezone": founder_tz_name,
        "slots": slots,
        "busy_events_considered": len(busy),
        "candidate_count": len(candidates),
    }


@app.tool()
def draft_reply(
    requester_name: str,
    requester_email: str,
    subject: str,
    slots: list,
    duration_minutes: int = 30,
    founder_name: str = "",
    requester_timezone: str = "",
    founder_timezone: str = "",
) -> dict:
    """Draft the reply email proposing the free slots, each shown in both time zones."""
    first_name = (requester_name or requester_email).split()[0]
    if not slots:
        body = (
            f"Hi {first_name},\n\nThanks for reaching out. My calendar is full in the dates you suggested; "
            "could you share a few more options?\n\nBest,\n"
            + (founder_name.split()[0] if founder_name else "")
        )
    else:
        lines = [
            f"  {i}. {s['requester_local']} (your time) / {s['founder_local']} (mine)"
            for i, s in enumerate(slots, 1)
        ]
        body = (
            f"Hi {first_name},\n\n"
            f"Thanks for your note, happy to talk. Here are a few {int(duration_minutes)}-minute slots that work on my side:\n\n"
            + "\n".join(lines)
            + "\n\nLet me know which suits you best and I'll send a calendar invite with a video link.\n\n"
            + "Best,\n"
            + (founder_name.split()[0] if founder_name else "")
        )
    reply_subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    return {"to": requester_email, "subject": reply_subject, "reply": body.rstrip() + "\n"}


@app.agent(entrypoint=True)
def meeting_bot(input: dict) -> str:
    """Schedules investor meetings from inbound email."""
    message = input.get("message") or "Handle the latest meeting request."
    return (
        "You are the founder's scheduling assistant. "
        f"Task: {message}\n"
        "1. Call read_meeting_request to learn who is asking, for how long, when and from which time zone.\n"
        "2. Call find_free_slots with those details to get slots free in the founder's calendar "
        "that fit both parties' working hours.\n"
        "3. Call draft_reply with the requester's details and the slots, then answer with the reply text."
    )
