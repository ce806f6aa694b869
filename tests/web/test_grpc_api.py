"""The dashboard's data API on a cassette of real gRPC calls: calls as message streams."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .conftest import dashboard_client

SHOP = "/api/cassettes/shop.jsonl"


@pytest.fixture
def client(grpc_cassette: Path, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copy(grpc_cassette, tmp_path / "shop.jsonl")
    with dashboard_client(tmp_path) as test_client:
        yield test_client


def test_the_list_and_details_name_grpc_calls(client: TestClient) -> None:
    (row,) = client.get("/api/cassettes").json()["cassettes"]
    assert row["kind"] == ["gRPC"]
    assert row["counts"]["grpc"] == 4
    details = client.get(SHOP).json()
    calls = [h["grpc"] for h in details["http"]]
    assert [(c["method"], c["status_name"], c["response_messages"]) for c in calls] == [
        ("/shop.Orders/Get", "OK", 1),
        ("/shop.Orders/Watch", "OK", 3),
        ("/shop.Orders/Trade", "OK", 2),
        ("/shop.Orders/Get", "NOT_FOUND", 0),
    ]


def test_a_call_is_a_stream_of_messages(client: TestClient) -> None:
    call = client.get(f"{SHOP}/grpc/1").json()
    assert call["grpc"]["method"] == "/shop.Orders/Watch"
    assert call["total"] == 4 and call["status"] == {"code": 0, "name": "OK", "message": ""}
    first, *updates = call["messages"]
    assert (first["dir"], first["type"], first["json"]) == (
        "send",
        "shop.OrderQuery",
        {"id": "42", "limit": 3},
    )
    assert [(m["dir"], m["json"]["status"]) for m in updates] == [
        ("recv", "step 0"),
        ("recv", "step 1"),
        ("recv", "step 2"),
    ]
    assert [m["t"] for m in updates] == sorted(m["t"] for m in updates)
    assert all(m["base64"] and m["size"] > 0 for m in call["messages"])

    page = client.get(f"{SHOP}/grpc/1", params={"offset": 2, "limit": 1}).json()
    assert [m["json"]["status"] for m in page["messages"]] == ["step 1"]
    assert page["next_offset"] == 3

    # the messages page shows each call with its summary and its first messages
    items = client.get(f"{SHOP}/messages", params={"grpc_status": "NOT_FOUND"}).json()["items"]
    (failed,) = items
    assert failed["grpc"]["message"] == "no order missing"
    assert [m["json"] for m in failed["messages"]] == [{"id": "missing"}]


def test_not_a_grpc_call_is_a_clear_404(client: TestClient) -> None:
    response = client.get(f"{SHOP}/grpc/9")
    assert response.status_code == 404
    assert "no gRPC call 9" in response.json()["error"]


def test_http_calls_filter_by_grpc_method_and_status(client: TestClient) -> None:
    """The HTTP section's filters: the same ``grpc_method``/``grpc_status`` as ``filter``."""

    def methods(**params: str) -> list[tuple[str, str]]:
        body = client.get(f"{SHOP}/http", params=params).json()
        assert body["total"] == len(body["items"])
        return [(h["grpc"]["method"], h["grpc"]["status_name"]) for h in body["items"]]

    assert methods(grpc_method="Orders/Get") == [
        ("/shop.Orders/Get", "OK"),
        ("/shop.Orders/Get", "NOT_FOUND"),
    ]
    assert methods(grpc_status="NOT_FOUND") == [("/shop.Orders/Get", "NOT_FOUND")]
    assert methods(grpc_status="5") == [("/shop.Orders/Get", "NOT_FOUND")]
    assert methods(grpc_method="Watch", grpc_status="OK") == [("/shop.Orders/Watch", "OK")]
    assert methods(grpc_method="Nope") == []
    page = client.get(f"{SHOP}/http", params={"grpc_status": "OK", "limit": 1, "offset": 1})
    assert page.json()["total"] == 3 and page.json()["next_offset"] == 2
    bad = client.get(f"{SHOP}/http", params={"grpc_status": "NOT_A_STATUS"})
    assert bad.status_code == 400
    assert "NOT_A_STATUS" in bad.json()["error"] and "NOT_FOUND" in bad.json()["error"]
