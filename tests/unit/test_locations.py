"""The location policy's rule (domain) and its guard (local links, http hosts)."""

from __future__ import annotations

import pytest

from dpr.adapters.location_policy import PolicyLocationGuard
from dpr.domain.errors import InvalidInput
from dpr.domain.locations import LocationRules, check_location, locations_in
from dpr.domain.process import InputDescription, ProcessDescription

RULES = [LocationRules(allow=("s3://bucket/dpr", "file:///data/eopf"))]


@pytest.mark.parametrize(
    "location",
    ["s3://bucket/dpr", "s3://bucket/dpr/a/b", "s3a://bucket/dpr/x", "/data/eopf/x", "file:///data/eopf/./x"],
)
def test_locations_under_an_allowed_prefix_pass(location):
    check_location(location, "field", RULES)


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("s3://bucket/dpr-other", "not allowed"),
        ("s3://BUCKET2/dpr", "not allowed"),
        ("/data/eopf/../secrets", "not allowed"),
        ("/data/eopfx", "not allowed"),
        ("s3://bucket/dpr/../x", "'..'"),
        ("file://host/data/eopf", "file:///absolute"),
        ("data/eopf/x", "absolute path"),
        ("gs://bucket/dpr", "absolute path"),
        ("s3://", "names no bucket"),
        ("s3://bucket/dpr/x::http://127.0.0.1/", "chain"),
        ("zip::s3://bucket/dpr/a.zip", "chain"),
        ("/data/eopf/\x1b[31m", "control characters"),
    ],
)
def test_other_locations_are_refused_naming_the_field_and_why(location, why):
    with pytest.raises(InvalidInput, match=why) as caught:
        check_location(location, "s3_config_dir", RULES)
    assert caught.value.input_id == "s3_config_dir"


def test_every_rule_must_allow_a_location_so_a_process_only_narrows_the_deployment():
    narrow = LocationRules(allow=("s3://bucket/dpr/mine",))
    check_location("s3://bucket/dpr/mine/x", "f", [*RULES, narrow])
    with pytest.raises(InvalidInput):
        check_location("s3://bucket/dpr/other", "f", [*RULES, narrow])
    with pytest.raises(InvalidInput):
        check_location("s3://bucket/dpr/mine/x", "f", [LocationRules(allow=("file:///data",)), narrow])


def test_only_inputs_in_the_location_format_are_locations_and_empty_ones_name_none():
    text = {"type": "string"}
    process = ProcessDescription(
        id="p",
        inputs={
            "folder": InputDescription(schema={**text, "format": "dpr-location"}),
            "many": InputDescription(schema={**text, "format": "dpr-location"}, maxOccurs="unbounded"),
            "note": InputDescription(schema=text),
        },
    )
    found = locations_in(process, {"folder": " ", "many": ["/a", "/b", None], "note": "/etc"})
    assert found == [("many", "/a"), ("many", "/b")]


async def test_a_link_inside_an_allowed_root_that_leads_out_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "inside").mkdir()
    (root / "out").symlink_to(outside)
    guard = PolicyLocationGuard(LocationRules(allow=(f"file://{root}",)))
    await guard.check("p", "f", str(root / "inside"))
    with pytest.raises(InvalidInput, match="not allowed"):
        await guard.check("p", "f", str(root / "out" / "x"))


async def test_an_allowed_root_that_is_itself_a_link_still_allows_what_lies_under_it(tmp_path):
    (tmp_path / "real" / "x").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    guard = PolicyLocationGuard(LocationRules(allow=(f"file://{tmp_path / 'alias'}",)))
    await guard.check("p", "f", str(tmp_path / "alias" / "x"))


async def test_http_locations_go_through_the_ssrf_guard():
    guard = PolicyLocationGuard(LocationRules(allow=("http://",)))
    with pytest.raises(InvalidInput, match="internal address") as caught:
        await guard.check("p", "s3_config_dir", "http://127.0.0.1:9/x")
    assert caught.value.input_id == "s3_config_dir"
