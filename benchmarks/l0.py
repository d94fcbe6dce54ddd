"""L0, the ceiling: a bare WSGI callable returning ~200 bytes of JSON (a pet's size)."""

BODY = (b'{"id":1,"category":{"id":1,"name":"Dogs"},"name":"doggie",'
        b'"photoUrls":["https://img.example.com/1.jpg"],"tags":[{"id":1,"name":"tag1"},'
        b'{"id":2,"name":"tag2"}],"status":"available","padding":"xxxxxxxxxxxxxx"}')
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
