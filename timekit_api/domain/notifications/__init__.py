"""Building blocks of notifications: signing, URL guard, webhook delivery, iCalendar, links, emails.

Nothing here touches a request, a session or the database; the outbox and its worker call these.
"""
