"""Finding, caching and downloading files: no test touches the network."""
import hashlib

import pytest

from minitl import hub

CONTENT = b"pretend weights" * 100
DIGEST = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A file served by a file:// URL, an empty cache and no local directory."""
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "w.bin").write_bytes(CONTENT)
    monkeypatch.setenv("MINITL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TEST_LOCAL_DIR", raising=False)
    return hub.RemoteFile("w.bin", (origin / "w.bin").as_uri(), DIGEST)


def test_downloads_verifies_and_caches(source, tmp_path, capsys):
    path = hub.fetch(source, "weights", "TEST_LOCAL_DIR")
    assert path == tmp_path / "cache" / "weights" / "w.bin" and path.read_bytes() == CONTENT
    (tmp_path / "origin" / "w.bin").unlink()  # a second call uses the cache
    assert hub.fetch(source, "weights", "TEST_LOCAL_DIR") == path


def test_hash_prefix_is_enough(source):
    prefixed = hub.RemoteFile(source.filename, source.url, DIGEST[:8])
    assert hub.fetch(prefixed, "weights", "TEST_LOCAL_DIR").exists()


def test_checksum_mismatch_keeps_nothing(source, tmp_path):
    wrong = hub.RemoteFile(source.filename, source.url, "0" * 64)
    with pytest.raises(ValueError, match=f"expected sha256 0{{64}}..., got {DIGEST}"):
        hub.fetch(wrong, "weights", "TEST_LOCAL_DIR")
    assert list((tmp_path / "cache" / "weights").iterdir()) == []


def test_local_directory_is_searched_first(source, tmp_path, monkeypatch):
    local = tmp_path / "local"
    local.mkdir()
    (local / "w.bin").write_bytes(CONTENT)
    monkeypatch.setenv("TEST_LOCAL_DIR", str(local))
    assert hub.fetch(hub.RemoteFile("w.bin", "http://127.0.0.1:9/never", DIGEST), "weights",
                     "TEST_LOCAL_DIR") == local / "w.bin"


def test_offline_error_says_where_to_put_the_file(source, tmp_path):
    offline = hub.RemoteFile("w.bin", "http://127.0.0.1:9/w.bin", DIGEST)  # port 9: nothing listens
    with pytest.raises(RuntimeError) as failure:
        hub.fetch(offline, "weights", "TEST_LOCAL_DIR")
    message = str(failure.value)
    assert "$TEST_LOCAL_DIR" in message and str(tmp_path / "cache" / "weights" / "w.bin") in message
    assert "http://127.0.0.1:9/w.bin" in message
