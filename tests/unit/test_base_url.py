"""``server.context.base_url`` gives what Starlette's ``request.base_url`` gives, remembered."""

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from takedown.server import context
from takedown.server.context import base_url


def _request(scheme: str, host: bytes | None, root_path: str, port: int) -> Request:
    headers = [(b"host", host)] if host is not None else []
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "server": ("127.0.0.1", port),
            "path": root_path + "/v1/reports",
            "root_path": root_path,
            "query_string": b"a=1",
            "headers": [*headers, (b"content-type", b"application/json")],
        }
    )


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.one_of(st.none(), st.sampled_from([b"a.example", b"b.example:8443", b"[::1]:80"])),
    root_path=st.sampled_from(["", "/x", "/api/", "/a/b"]),
    port=st.sampled_from([80, 443, 8000]),
)
def test_base_url_is_starlettes(scheme, host, root_path, port):
    request = _request(scheme, host, root_path, port)
    assert base_url(request) == str(request.base_url)
    assert base_url(request) == str(_request(scheme, host, root_path, port).base_url)


def test_remembered_base_urls_stay_few_whatever_hosts_clients_send():
    for n in range(500):
        base_url(_request("http", f"h{n}.example".encode(), "", 80))
    assert len(context._BASE_URLS) <= 64
