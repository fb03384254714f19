"""Settings that the public pages show: the platform's name and help page, and the support
resources (``support_links``), checked when the settings are read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from takedown.config import Settings, support_links


def test_the_default_support_resources_are_ncmecs_and_ccris():
    names = [name for name, _, _ in support_links(Settings().support_resources)]
    assert names == ["NCMEC Take It Down", "NCMEC CyberTipline", "Cyber Civil Rights Initiative"]
    assert all(
        url.startswith("https://") for _, url, _ in support_links(Settings().support_resources)
    )


def test_a_national_helpline_is_one_entry_and_empty_means_none():
    value = "Childline|https://www.childline.org.uk|Free, private help for under-19s: 0800 1111"
    assert support_links(value) == [
        ("Childline", "https://www.childline.org.uk", "Free, private help for under-19s: 0800 1111")
    ]
    assert support_links("") == []
    assert Settings(support_resources="").support_resources == ""


@pytest.mark.parametrize(
    "value",
    [
        "no address at all",
        "Name|javascript:alert(1)|text",
        "|https://example.org|no name",
        "Name|https://example.org",
    ],
)
def test_a_malformed_entry_is_refused_when_the_settings_are_read(value):
    with pytest.raises(ValidationError, match="support_resources"):
        Settings(support_resources=value)


def test_the_help_page_must_be_a_web_address():
    with pytest.raises(ValidationError, match="platform_help_url"):
        Settings(platform_help_url="javascript:alert(1)")
    assert Settings(platform_help_url="https://help.example.social").platform_help_url
