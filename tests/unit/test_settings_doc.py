"""docs/settings.md documents every setting the product reads (a new setting without a
line in the reference fails here)."""

from pathlib import Path

from ops.config import HOST_SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    missing = sorted(name for name in Settings.env_names() | HOST_SETTINGS if f"`{name}`" not in text)
    assert missing == []
