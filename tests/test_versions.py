from envbuild.versions import minor, within


def test_minor_and_within() -> None:
    assert minor("3.11.2") == "3.11" and minor("12.4.127") == "12.4" and minor("3.11") == "3.11"
    assert within("3.11.2", "3.11") and within("3.11.2", "3.11.2") and within("12.4.127", "12.4")
    assert not within("3.11.2", "3.1") and not within("3.12.0", "3.11") and not within("3.11", "3.11.2")
