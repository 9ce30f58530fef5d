import llama_index_readers_confluence_v2 as package
from llama_index_readers_confluence_v2 import emulator


def test_all_is_sorted_and_importable() -> None:
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_emulator_exports_are_sorted_and_importable() -> None:
    assert emulator.__all__ == sorted(emulator.__all__)
    for name in emulator.__all__:
        assert getattr(emulator, name) is not None


def test_every_error_derives_from_one_base() -> None:
    errors = [getattr(package, n) for n in package.__all__ if n.endswith("Error")]
    assert len(errors) >= 7
    assert all(issubclass(error, package.ConfluenceError) for error in errors)
    assert issubclass(package.BadURLError, package.BadArgumentError)
    assert issubclass(package.BadArgumentError, ValueError)
