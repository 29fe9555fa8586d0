"""The wheel as a user installs it: built from the tracked files without a warning, carrying every data file,
with the SPDX license and the one version in its metadata. (CI also installs it into a fresh virtualenv and
runs `chatops --version` and `chatops demo` from it.)"""

from __future__ import annotations

import email
import zipfile

import pytest

import bot
from tests.wheel_contents import build_wheel, problems


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_every_file_of_the_packages(built):
    wheel, _ = built
    assert problems(wheel) == []


def test_the_build_prints_no_warning(built):
    _, output = built
    # `build` relays the backend's warnings (setuptools' deprecations among them) as "WARNING ..." lines.
    assert [line for line in output.splitlines() if line.startswith("WARNING") or "Warning:" in line] == []


def test_the_metadata_has_the_spdx_license_and_the_one_version(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.message_from_bytes(archive.read(f"chatops-{bot.__version__}.dist-info/METADATA"))
        assert f"chatops-{bot.__version__}.dist-info/licenses/LICENSE" in archive.namelist()
    assert metadata["Version"] == bot.__version__
    assert metadata["License-Expression"] == "MIT" and metadata["License-File"] == "LICENSE"
    assert metadata["License"] is None  # the deprecated free-text field is gone


def test_a_wheel_without_a_data_file_is_caught(built, tmp_path):
    wheel, _ = built
    dropped = "bot/i18n/locales/es/doctor.toml"
    partial = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(partial, "w") as copy:
        for item in source.infolist():
            if item.filename != dropped and not item.filename.startswith("sandbox/emulators/worlds/"):
                copy.writestr(item, source.read(item))
    found = problems(partial)
    assert f"missing from the wheel: {dropped}" in found
    assert "no emulator worlds (sandbox/emulators/worlds/*.json) in the wheel" in found
