import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from remot_data.errors import SourceFormatError
from remot_data.sources.scannet import list_scannet_scenes, read_scannet_pose, read_scannet_scene
from tests.factories.scannet import make_pose_series, write_scannet_export


@pytest.fixture
def scene(tmp_path):
    poses = make_pose_series(np.linspace(0, -30, 5), np.linspace(0, 10, 5))
    return write_scannet_export(tmp_path / "scene0001_00", poses), poses


def test_round_trip_poses_frames_and_size(scene):
    scene_dir, poses = scene
    clip = read_scannet_scene(scene_dir)
    assert clip.clip_id == "scene0001_00"
    assert [f.frame_index for f in clip.frames] == [0, 1, 2, 3, 4]
    assert clip.frames[3].image_path == scene_dir / "color" / "3.jpg"
    assert_allclose(clip.T_world_cam, poses, atol=1e-6)  # written with %f
    assert (clip.image_width_px, clip.image_height_px) == (64, 48)
    assert clip.dropped == ()


def test_frames_are_ordered_numerically_not_lexically(tmp_path):
    poses = make_pose_series(np.zeros(12))
    clip = read_scannet_scene(write_scannet_export(tmp_path / "s", poses))
    assert [f.frame_index for f in clip.frames] == list(range(12))


def test_list_scenes_accepts_a_root_or_one_scene(scene, tmp_path):
    scene_dir, _ = scene
    assert list_scannet_scenes(tmp_path) == [scene_dir]
    assert list_scannet_scenes(scene_dir) == [scene_dir]
    with pytest.raises(SourceFormatError, match="no ScanNet scene found"):
        list_scannet_scenes(scene_dir / "color")


@pytest.mark.parametrize(
    "text, match",
    [
        ("1 0 0 0\n0 1 0 0\n0 0 1 0\n", r"pose/2\.txt: a ScanNet pose must be 4 lines of 4 numbers, got 3 rows"),
        ("1 0 0\n0 1 0\n0 0 1\n0 0 0\n", r"pose/2\.txt: a ScanNet pose must be 4 lines"),
        ("1 0 0 0\n0 1 0 0\n0 0 x 0\n0 0 0 1\n", r"pose/2\.txt: pose values must be numbers"),
        ("2 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n", r"pose/2\.txt: pose rotation is not rigid"),
        ("-1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n", r"pose/2\.txt: pose rotation is not rigid .*det = -1"),
        ("1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 1 1\n", r"pose/2\.txt: last pose row must be 0 0 0 1"),
    ],
    ids=["three rows", "three columns", "not a number", "scaled", "reflection", "bad last row"],
)
def test_a_malformed_pose_file_drops_its_frame_naming_the_file_and_the_scene_keeps_the_rest(scene, text, match):
    # one pose file is one frame: the other frames of the scene are not lost with it
    scene_dir, _ = scene
    (scene_dir / "pose" / "2.txt").write_text(text)
    clip = read_scannet_scene(scene_dir)
    assert [f.frame_index for f in clip.frames] == [0, 1, 3, 4]
    [reject] = clip.dropped
    assert (reject.reason, reject.frame_index, reject.stage) == ("bad_pose_file", 2, "read")
    assert re.search(match, reject.detail) and reject.path.endswith("pose/2.txt")
    with pytest.raises(SourceFormatError, match=match):
        read_scannet_pose(scene_dir / "pose" / "2.txt")


def test_a_scene_whose_every_pose_file_is_malformed_fails_naming_some(scene):
    scene_dir, _ = scene
    for pose in (scene_dir / "pose").glob("*.txt"):
        pose.write_text("1 0 0\n")
    with pytest.raises(SourceFormatError, match=r"scene has no frame with both .*\(5 dropped, e\.g\. .*pose/0\.txt"):
        read_scannet_scene(scene_dir)


def test_non_finite_pose_drops_only_that_frame(scene):
    scene_dir, _ = scene
    (scene_dir / "pose" / "1.txt").write_text("-inf -inf -inf -inf\n" * 3 + "0 0 0 1\n")
    clip = read_scannet_scene(scene_dir)
    assert [f.frame_index for f in clip.frames] == [0, 2, 3, 4]
    assert clip.T_world_cam.shape == (4, 4, 4)
    [reject] = clip.dropped
    assert (reject.reason, reject.frame_index, reject.stage) == ("non_finite_pose", 1, "read")
    assert reject.path.endswith("pose/1.txt")


def test_missing_colour_image_drops_the_frame(scene):
    scene_dir, _ = scene
    (scene_dir / "color" / "4.jpg").unlink()
    clip = read_scannet_scene(scene_dir)
    assert [f.frame_index for f in clip.frames] == [0, 1, 2, 3]
    assert [r.reason for r in clip.dropped] == ["missing_image"]


def test_unreadable_colour_image_names_the_file(scene):
    scene_dir, _ = scene
    (scene_dir / "color" / "0.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SourceFormatError, match=r"color/0\.jpg: colour image cannot be opened"):
        read_scannet_scene(scene_dir)


def test_intrinsics_for_the_full_sensor_are_rescaled_to_downsampled_frames(demo_scannet_root, tmp_path):
    # SensReader writes intrinsic_color.txt for 1296 x 968 while many exports hold 640 x 480 frames
    import shutil

    import numpy as np

    scene = tmp_path / "scene0000_00"
    shutil.copytree(sorted(demo_scannet_root.iterdir())[0], scene)
    path = scene / "intrinsic" / "intrinsic_color.txt"
    K = np.loadtxt(path)
    native = read_scannet_scene(scene).focal_px
    np.savetxt(path, K * np.array([[2.0], [2.0], [1.0], [1.0]]))  # the same camera calibrated at twice the size
    assert read_scannet_scene(scene).focal_px == pytest.approx(native)
    squeezed = K.copy()
    squeezed[0, 2] *= 1.5  # a calibration of another aspect: not a rescale, refused with the numbers
    np.savetxt(path, squeezed)
    with pytest.raises(SourceFormatError, match=r"intrinsic_color\.txt: intrinsics are for about \d+ x \d+ pixels"):
        read_scannet_scene(scene)


def test_symbolic_links_out_of_the_scene_or_input_are_never_read(scene, tmp_path):
    scene_dir, _ = scene
    elsewhere = tmp_path.parent / f"{tmp_path.name}_elsewhere"
    elsewhere.mkdir()
    (elsewhere / "3.jpg").write_bytes((scene_dir / "color" / "3.jpg").read_bytes())
    (scene_dir / "color" / "3.jpg").unlink()
    (scene_dir / "color" / "3.jpg").symlink_to(elsewhere / "3.jpg")
    clip = read_scannet_scene(scene_dir)
    assert [f.frame_index for f in clip.frames] == [0, 1, 2, 4]
    [reject] = clip.dropped
    assert (reject.reason, reject.frame_index) == ("outside_input", 3) and "symbolic link out of" in reject.detail
    from remot_data.sources.scannet import hash_scannet_scene

    secret = elsewhere / "secret.txt"
    secret.write_text("1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
    (scene_dir / "pose" / "4.txt").unlink()
    (scene_dir / "pose" / "4.txt").symlink_to(secret)  # a linked pose file: not read, its frame rejected
    before = hash_scannet_scene(scene_dir)
    secret.write_text("garbage")
    assert hash_scannet_scene(scene_dir) == before  # the hash does not read through the link either
    assert [r.reason for r in read_scannet_scene(scene_dir).dropped] == ["outside_input", "outside_input"]
    # a whole scene folder linked in from outside the input is refused before any scene is read
    outside_scene = elsewhere / "scene0042_00"
    write_scannet_export(outside_scene, make_pose_series(np.zeros(3)))
    (tmp_path / "scene0042_00").symlink_to(outside_scene)
    with pytest.raises(SourceFormatError, match=r"scene folders \['scene0042_00'\] are symbolic links out of"):
        list_scannet_scenes(tmp_path)
