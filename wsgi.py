"""WSGI entry point: ``waitress-serve wsgi:app`` or ``timekit-api serve``."""

from timekit_api.app import create_app
from timekit_api.database.migrate import upgrade_to_head
from timekit_api.http.logs import configure_default_logging
from timekit_api.serving import (
    allow_api_key_header,
    return_large_blocks_to_the_system,
    send_in_bounded_chunks,
)
from timekit_api.worker import start_thread

# The access log on stderr, unless logging was configured before this import.
configure_default_logging()

# waitress drops the seed's `api_key` header unless told otherwise (see serving.py).
allow_api_key_header()
# Bounded memory per connection for large answers, and large blocks back to the system.
send_in_bounded_chunks()
return_large_blocks_to_the_system()
app = create_app()
if app.config["AUTO_CREATE_SCHEMA"]:
    upgrade_to_head(app)
# The worker (automatic transitions) as a thread, so `waitress-serve wsgi:app` runs it too.
worker = start_thread(app)
