import orjson
import pytest
from pydantic import ValidationError

from bridge.destinations.base import Adjusted, VendorResponse
from bridge.destinations.convert import ConvertDestination
from bridge.destinations.verdicts import Delivered
from bridge.vocabulary.money import Money
from tests.support.conversions import conversion, destination

OPTIONS = {
    "vendor": "convert",
    "account_id": "10012345",
    "project_id": "10056789",
    "base_url": "http://127.0.0.1:9",
}


def convert(**options: object) -> ConvertDestination:
    return destination(
        ConvertDestination, {**OPTIONS, **options}, {"CONVERT_SECRET": "sdk-secret-1"}
    )


def test_conversions_of_one_visitor_share_an_entry_and_visitors_share_a_request() -> None:
    [request] = convert().requests(
        [
            conversion(
                1,
                visitor_id="v-1",
                goal_id="100",
                exposure={"200": "300"},
                vendor_fields={"segments": {"browser": "CH"}},
            ),
            conversion(2, visitor_id="v-2", goal_id="100"),
            conversion(
                3,
                visitor_id="v-1",
                goal_id="101",
                vendor_fields={"segments": {"devices": ["DESK"]}},
            ),
        ]
    )
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/v1/track/10012345/10056789"
    assert request.items == (0, 1, 2)
    assert orjson.loads(request.body) == {
        "accountId": "10012345",
        "projectId": "10056789",
        "enrichData": True,
        "visitors": [
            {
                "visitorId": "v-1",
                "segments": {"browser": "CH", "devices": ["DESK"]},
                "events": [
                    {
                        "eventType": "conversion",
                        "data": {"goalId": "100", "bucketingData": {"200": "300"}},
                    },
                    {"eventType": "conversion", "data": {"goalId": "101"}},
                ],
            },
            {
                "visitorId": "v-2",
                "events": [{"eventType": "conversion", "data": {"goalId": "100"}}],
            },
        ],
    }


def test_revenue_goes_in_a_second_event_with_goal_data_as_the_sdks_send_it() -> None:
    [request] = convert(custom_dimensions={"customDimension1": "plan"}).requests(
        [
            conversion(
                visitor_id="v",
                goal_id="100",
                exposure={"200": "300"},
                revenue=Money(2499, "USD"),
                vendor_fields={"products_count": 3},
                transaction_id="pi_1",
                properties={"plan": "pro"},
            ),
        ]
    )
    [visitor] = orjson.loads(request.body)["visitors"]
    assert visitor["events"] == [
        {"eventType": "conversion", "data": {"goalId": "100", "bucketingData": {"200": "300"}}},
        {
            "eventType": "conversion",
            "data": {
                "goalId": "100",
                "bucketingData": {"200": "300"},
                "goalData": [
                    {"key": "amount", "value": 24.99},
                    {"key": "productsCount", "value": 3},
                    {"key": "transactionId", "value": "pi_1"},
                    {"key": "customDimension1", "value": "pro"},
                ],
            },
        },
    ]


@pytest.mark.parametrize(
    ("money", "amount"),
    [
        (Money(2499, "USD"), b"24.99"),
        (Money(5000, "JPY"), b"5000"),
        (Money(12340, "KWD"), b"12.34"),
    ],
)
def test_amount_is_a_decimal_number_in_major_units(money: Money, amount: bytes) -> None:
    [request] = convert().requests([conversion(visitor_id="v", goal_id="1", revenue=money)])
    assert b'{"key":"amount","value":' + amount + b"}" in request.body


def test_every_request_passes_convert_bot_filter() -> None:
    [request] = convert().requests([conversion(visitor_id="v", goal_id="1")])
    assert request.headers["User-Agent"].startswith("ConvertAgent/")


def test_a_user_agent_that_convert_would_drop_is_refused() -> None:
    with pytest.raises(ValidationError, match="must start with 'ConvertAgent/'"):
        convert(user_agent="python-httpx/0.28")


def test_authorization_only_when_the_sdk_key_has_a_secret() -> None:
    [plain] = convert().requests([conversion(visitor_id="v", goal_id="1")])
    assert "Authorization" not in plain.headers
    keyed = convert(sdk_key="abcdef123", sdk_key_secret="${CONVERT_SECRET}")
    [request] = keyed.requests([conversion(visitor_id="v", goal_id="1")])
    assert request.url == "http://127.0.0.1:9/v1/track/abcdef123"
    assert request.headers["Authorization"] == "Bearer sdk-secret-1"
    assert request.redacted_headers()["Authorization"] == "Bearer ${CONVERT_SECRET}"


@pytest.mark.parametrize(
    ("sdk_key", "path"),
    [
        ("abcdef123", "/v1/track/abcdef123"),
        ("10012345/10056789", "/v1/track/10012345%2F10056789"),
        ("key with space?#", "/v1/track/key%20with%20space%3F%23"),
    ],
)
def test_the_sdk_key_is_one_segment_of_the_path(sdk_key: str, path: str) -> None:
    [request] = convert(sdk_key=sdk_key).requests([conversion(visitor_id="v", goal_id="1")])
    assert request.url == "http://127.0.0.1:9" + path


def test_batches_hold_at_most_batch_size_conversions() -> None:
    requests = convert(batch_size=10).requests(
        [conversion(n, visitor_id=f"v{n}", goal_id="1") for n in range(25)]
    )
    assert [len(r.items) for r in requests] == [10, 10, 5]


def test_without_enrichment_the_bucketing_is_required() -> None:
    assert convert().required_fields == {"visitor_id", "goal_id"}
    assert convert(enrich_data=False).required_fields == {"visitor_id", "goal_id", "exposure"}


VALID_SEGMENTS = {
    "browser": "CH",
    "devices": ["DESK", "IPH"],
    "source": "ai_tool",
    "visitorType": "returning",
    "country": "US",
    "campaign": "spring",
    "customSegments": ["s1"],
}


def test_documented_segment_keys_and_codes_are_taken_as_they_are() -> None:
    assert convert().validate_field("segments", VALID_SEGMENTS) is None


def test_empty_segments_as_convert_builds_them_for_an_unknown_visitor_are_not_sent() -> None:
    """Convert's integration guide sends `country: ''` and `customSegments: []` when unknown."""
    unknown = {"browser": "OTH", "country": "", "campaign": "", "customSegments": []}
    assert convert().validate_field("segments", unknown) is None
    [request] = convert().requests(
        [conversion(visitor_id="v", goal_id="1", vendor_fields={"segments": unknown})]
    )
    [visitor] = orjson.loads(request.body)["visitors"]
    assert visitor["segments"] == {"browser": "OTH"}


@pytest.mark.parametrize(
    ("segments", "sent", "warning"),
    [
        ({"country": "us"}, {"country": "US"}, "country 'us' sent as 'US'"),
        ({"browser": "ch", "visitorType": "New"}, {"browser": "CH", "visitorType": "new"}, None),
        ({"devices": "DESK"}, {"devices": ["DESK"]}, "devices 'DESK' sent as ['DESK']"),
        ({"browser": ["SF"]}, {"browser": "SF"}, "browser ['SF'] sent as 'SF'"),
        (
            {"browser": "Chrome", "country": "DE"},
            {"country": "DE"},
            "browser 'Chrome' is not one of Convert's codes (CH, FF, IE, OP, OTH, SF): left out",
        ),
        ({"devices": ["DESK", "laptop"]}, {"devices": ["DESK"]}, "devices 'laptop' is not one"),
        ({"country": "USA", "source": "direct"}, {"source": "direct"}, "country 'USA' is not"),
        ({"language": "en"}, None, "Convert has no segment 'language': left out"),
        ({"visitorType": "1"}, None, "visitorType '1' is not one of Convert's codes"),
    ],
)
def test_a_segment_convert_would_not_take_is_normalised_or_left_out_with_a_warning(
    segments: dict[str, object], sent: dict[str, object] | None, warning: str | None
) -> None:
    found = convert().validate_field("segments", segments)
    assert isinstance(found, Adjusted)
    assert found.value == sent
    assert warning is None or warning in found.warning
    assert found.warning  # never empty


def test_what_is_not_a_segment_object_is_refused() -> None:
    assert convert().validate_field("segments", ["CH"]) == "must be an object"


def test_unknown_custom_dimensions_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown customDimension6"):
        convert(custom_dimensions={"customDimension6": "plan"})


def test_a_200_is_delivered() -> None:
    destination_ = convert()
    [request] = destination_.requests([conversion(visitor_id="v", goal_id="1")])
    assert destination_.classify(
        request, VendorResponse(200, {}, b'{"code":200,"message":"ok"}')
    ) == [Delivered(200, '{"code":200,"message":"ok"}')]
