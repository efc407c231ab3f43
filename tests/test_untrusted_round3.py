"""Round 3 of outside fuzzing (issue 31): each weakness it found, as a small crafted file or a few lines.

1. overlapping zip entries (one block read as many entries) are refused;
2. readers stay within a small multiple of the file's size in memory;
3. tl.save never writes through a planted link, and keeps a checkpoint's permissions;
4. grad mode is per thread, and set_num_threads never breaks another thread's work;
5. the cases where the readers differed from torch.
"""
import os
import stat

from minitl.io import load, save


# -- 3. the temporary file of a save -------------------------------------------------------------------------
def test_a_planted_partial_symlink_is_never_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / ".ckpt.npz.partial").symlink_to(victim)
    save({"n": 1}, tmp_path / "ckpt.npz")
    assert victim.read_bytes() == b"precious" and load(tmp_path / "ckpt.npz") == {"n": 1}
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "victim"]


def test_a_planted_partial_hard_link_is_never_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.link(victim, tmp_path / ".ckpt.npz.partial")
    save({"n": 1}, tmp_path / "ckpt.npz")
    assert victim.read_bytes() == b"precious" and load(tmp_path / "ckpt.npz") == {"n": 1}


def test_saving_over_a_private_checkpoint_keeps_it_private(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"n": 1}, path)
    os.chmod(path, 0o600)
    save({"n": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and load(path) == {"n": 2}
