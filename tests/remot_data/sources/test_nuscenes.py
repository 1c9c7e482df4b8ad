"""The nuScenes reader: tables by plain JSON, boxes projected into the front camera, every bad token named."""

import json

import numpy as np
import pytest

from remot_data.demo.nuscenes import DemoNuScenesConfig, write_demo_nuscenes
from remot_data.errors import SourceFormatError
from remot_data.sources.nuscenes import load_tables, read_nuscenes_scene, remot_category
from remot_data.sources.registry import get_reader

F, CX, CY = 200.0, 160.0, 90.0  # the hand-made camera below
CAM_TO_EGO = {"translation": [1.7, 0.0, 1.5], "rotation": [0.5, -0.5, 0.5, -0.5]}  # nuScenes CAM_FRONT convention


def _tables(ego_yaw=0.0, objects=(([11.7, 0.0, 1.5], [2.0, 2.0, 2.0], "vehicle.car", "4"),)):
    """One scene, two keyframes 0.5 s apart (the ego 1 m further along x on the second), objects as given."""
    quat = [float(np.cos(ego_yaw / 2)), 0.0, 0.0, float(np.sin(ego_yaw / 2))]
    tables = {
        "scene": [{"token": "sc", "name": "scene-0061", "first_sample_token": "s0", "nbr_samples": 2}],
        "sample": [
            {"token": "s0", "timestamp": 1_000_000, "scene_token": "sc", "prev": "", "next": "s1"},
            {"token": "s1", "timestamp": 1_500_000, "scene_token": "sc", "prev": "s0", "next": ""},
        ],
        "ego_pose": [
            {"token": "e0", "translation": [0.0, 0.0, 0.0], "rotation": quat},
            {"token": "e1", "translation": [1.0, 0.0, 0.0], "rotation": quat},
        ],
        "sensor": [{"token": "cam", "channel": "CAM_FRONT"}, {"token": "lid", "channel": "LIDAR_TOP"}],
        "calibrated_sensor": [
            {
                "token": "cc",
                "sensor_token": "cam",
                "camera_intrinsic": [[F, 0, CX], [0, F, CY], [0, 0, 1]],
                **CAM_TO_EGO,
            },
            {
                "token": "cl",
                "sensor_token": "lid",
                "camera_intrinsic": [],
                "translation": [0, 0, 2],
                "rotation": [1, 0, 0, 0],
            },
        ],
        "sample_data": [
            {
                "token": f"{kind}{i}",
                "sample_token": f"s{i}",
                "ego_pose_token": f"e{i}",
                "calibrated_sensor_token": calib,
                "filename": f"samples/{kind}/{i}.jpg",
                "timestamp": 1_000_000 + 500_000 * i,
                "is_key_frame": True,
                "width": 320,
                "height": 180,
            }
            for i in range(2)
            for kind, calib in (("CAM_FRONT", "cc"), ("LIDAR_TOP", "cl"))
        ],
        "category": [],
        "instance": [],
        "sample_annotation": [],
    }
    for k, (centre, size, category, visibility) in enumerate(objects):
        tables["category"].append({"token": f"c{k}", "name": category})
        tables["instance"].append({"token": f"i{k}", "category_token": f"c{k}"})
        for i in range(2):
            tables["sample_annotation"].append(
                {
                    "token": f"a{k}{i}",
                    "sample_token": f"s{i}",
                    "instance_token": f"i{k}",
                    "translation": centre,
                    "size": size,
                    "rotation": [1.0, 0.0, 0.0, 0.0],
                    "visibility_token": visibility,
                }
            )
    return tables


def _write(root, tables, version="v1.0-mini"):
    (root / version).mkdir(parents=True, exist_ok=True)
    for name, records in tables.items():
        (root / version / f"{name}.json").write_text(json.dumps(records))
    return root


def test_a_box_ahead_projects_where_the_pinhole_says(tmp_path):
    # a 2 m cube whose centre is 10 m ahead of the camera: its near face at 9 m spans f * 1 m / 9 m either way
    clip = read_nuscenes_scene(load_tables(_write(tmp_path, _tables()), None), "scene-0061")
    assert [f.timestamp_s for f in clip.frames] == [0.0, 0.5]
    assert clip.frames[0].image_path == tmp_path / "samples/CAM_FRONT/0.jpg"  # the camera, never the lidar
    box = clip.objects.box_xywh_px[0]
    assert box == pytest.approx([CX - F / 9, CY - F / 9, 2 * F / 9, 2 * F / 9])
    # one metre closer on the second keyframe: the near face at 8 m
    assert clip.objects.box_xywh_px[1] == pytest.approx([CX - F / 8, CY - F / 8, 2 * F / 8, 2 * F / 8])
    assert clip.objects.category.tolist() == ["vehicle", "vehicle"] and clip.objects.visibility.tolist() == [0.8, 0.8]
    assert clip.source == "nuscenes" and (clip.image_width_px, clip.image_height_px) == (320, 180)
    assert clip.tracks["ego.xy_m"].tolist() == [[0.0, 0.0], [1.0, 0.0]] and clip.tracks["ego.yaw_deg"].tolist() == [
        0,
        0,
    ]


def test_objects_behind_or_beside_the_camera_are_not_in_its_view(tmp_path):
    objects = (
        ([-10.0, 0.0, 1.0], [1.0, 1.0, 1.0], "human.pedestrian.adult", "4"),  # behind
        ([5.0, 40.0, 1.0], [1.0, 1.0, 1.0], "human.pedestrian.adult", "4"),  # far to the left: outside the image
        ([20.0, 2.0, 1.0], [0.6, 0.6, 1.8], "human.pedestrian.adult", "1"),  # ahead, 0-40 % visible
    )
    clip = read_nuscenes_scene(load_tables(_write(tmp_path, _tables(objects=objects)), None), "scene-0061")
    assert clip.objects.track_id.tolist() == [3, 3]
    assert clip.objects.visibility.tolist() == [0.0, 0.0]  # a bin's lower bound: not counted
    x0 = clip.objects.box_xywh_px[0, 0]
    assert x0 < CX  # 2 m to the left (+y) of the axis is left in the image


def test_the_ego_heading_turns_the_view(tmp_path):
    # the ego turned 90 degrees left: the object that was ahead is now on its right, out of a 77-degree view
    clip = read_nuscenes_scene(load_tables(_write(tmp_path, _tables(ego_yaw=np.pi / 2)), None), "scene-0061")
    assert len(clip.objects.position) == 0
    assert clip.tracks["ego.yaw_deg"] == pytest.approx([90.0, 90.0])  # + = left (counter-clockwise from above)


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda t: t["sample_annotation"][0].update(instance_token="nope"),
            r"sample_annotation\.json: record a00 field instance_token points at 'nope', which instance\.json does not",
        ),
        (lambda t: t["sample"][1].pop("timestamp"), r"sample\.json: record s1 has no field timestamp"),
        (
            lambda t: t["category"][0].update(name="flying.saucer"),
            r"category\.json: record c0 field name 'flying\.saucer' is no known nuScenes category",
        ),
        (
            lambda t: t["sample_annotation"][0].update(visibility_token="7"),
            r"sample_annotation\.json: record a00 field visibility_token is '7'",
        ),
        (
            lambda t: t["calibrated_sensor"][0].update(sensor_token="ghost"),
            r"calibrated_sensor\.json: record cc field sensor_token points at 'ghost'",
        ),
        (lambda t: t.pop("ego_pose"), r"ego_pose\.json: table missing"),
        # values a reader uses: each crashed the build (TypeError), read a file outside the dataset, or gave NaN boxes
        (
            lambda t: t["ego_pose"][1].update(rotation=[0, 0, 0, 0]),
            r"ego_pose\.json: record e1 field rotation must be a non-zero quaternion \(w, x, y, z\), got \[0, 0",
        ),
        (
            lambda t: t["calibrated_sensor"][0].update(rotation=[1, 0, 0]),
            r"calibrated_sensor\.json: record cc field rotation must be 4 numbers, got \[1, 0, 0\]",
        ),
        (
            lambda t: t["calibrated_sensor"][0].update(camera_intrinsic=[[1, 0], [0, 1]]),
            r"calibrated_sensor\.json: record cc field camera_intrinsic must be 3x3 numbers",
        ),
        (
            lambda t: t["sample_annotation"][1].update(size=[2.0, -1.0, 2.0]),
            r"sample_annotation\.json: record a01 field size must be 3 positive numbers",
        ),
        (
            lambda t: t["sample_annotation"][0].update(translation=[1.0, "NaN", 2.0]),
            r"sample_annotation\.json: record a00 field translation must be 3 numbers",
        ),
        (
            lambda t: t["sample_data"][0].update(timestamp="soon"),
            r"sample_data\.json: record CAM_FRONT0 field timestamp must be a number, got 'soon'",
        ),
        (
            lambda t: t["sample_data"][2].update(filename="../../outside.jpg"),
            r"sample_data\.json: record CAM_FRONT1: filename gives '\.\./\.\./outside\.jpg', which resolves outside",
        ),
        (
            lambda t: t["sample_data"][0].update(filename="/etc/passwd"),
            r"sample_data\.json: record CAM_FRONT0: filename gives '/etc/passwd', which resolves outside",
        ),
        (
            lambda t: t["sample"][0].update(next=["s1"]),
            r"sample\.json: record 's0' field next must be text, got \['s1'\]",
        ),
        (
            lambda t: t["calibrated_sensor"][0].update(sensor_token={"token": "cam"}),
            r"calibrated_sensor\.json: record 'cc' field sensor_token must be text",
        ),
    ],
    ids=[
        "dangling instance",
        "missing field",
        "unknown category",
        "visibility",
        "dangling sensor",
        "missing table",
        "zero quaternion",
        "short rotation",
        "intrinsic",
        "size",
        "nan",
        "timestamp",
        "parent",
        "absolute",
        "next",
        "token type",
    ],
)
def test_a_bad_table_is_named_by_file_record_and_field(tmp_path, edit, match):
    tables = _tables()
    edit(tables)
    root = _write(tmp_path / "root", tables)
    (tmp_path / "outside.jpg").write_bytes(b"")
    reader = get_reader("nuscenes")
    with pytest.raises(SourceFormatError, match=match):  # what a build does: check, hash, read
        reader.check_input(root)
        reader.hash_clip(root, "scene-0061")
        reader.read_clip(root, "scene-0061")


def test_versions_are_found_or_named(tmp_path):
    _write(tmp_path, _tables(), "v1.0-mini")
    assert get_reader("nuscenes").list_clips(tmp_path) == ["scene-0061"]
    _write(tmp_path, _tables(), "v1.0-trainval")
    with pytest.raises(SourceFormatError, match=r"several nuScenes versions \['v1\.0-mini', 'v1\.0-trainval'\]"):
        get_reader("nuscenes").list_clips(tmp_path)
    assert get_reader("nuscenes", nuscenes_version="v1.0-trainval").list_clips(tmp_path) == ["scene-0061"]
    with pytest.raises(SourceFormatError, match=r"no nuScenes tables \(scene\.json\) for version 'v2'"):
        get_reader("nuscenes", nuscenes_version="v2").list_clips(tmp_path)


def test_categories_map_by_prefix():
    assert remot_category("vehicle.bus.rigid") == "vehicle" and remot_category("vehicle.bicycle") == "bicycle"
    assert remot_category("movable_object.trafficcone") == "other" and remot_category("human.pedestrian.child")
    assert remot_category("noise") is None


def test_the_demo_drive_reads_with_its_pixels_matching_the_boxes(tmp_path):
    from PIL import Image

    root = write_demo_nuscenes(tmp_path, DemoNuScenesConfig(n_scenes=1, n_samples=12, n_people=8, n_cars=3))
    reader = get_reader("nuscenes")
    reader.check_input(root)
    clip = reader.read_clip(root, "scene-0001")
    assert len(clip.frames) == 12 and clip.objects.category.size > 0
    # every fully visible box is drawn in its own colour: the box's centre pixel differs from sky and road
    checked = 0
    for p, box, vis in zip(clip.objects.position, clip.objects.box_xywh_px, clip.objects.visibility, strict=True):
        x0, y0, w, h = box
        if vis < 0.8 or w < 6 or not (x0 >= 0 and x0 + w <= 320 and y0 >= 0 and y0 + h <= 180):
            continue
        pixels = np.asarray(Image.open(clip.frames[p].image_path).convert("RGB"), dtype=int)
        inner = pixels[int(y0 + h * 0.3) : int(y0 + h * 0.7), int(x0 + w * 0.3) : int(x0 + w * 0.7)]
        assert inner.std(axis=(0, 1)).max() < 12  # one flat colour: the object's fill
        checked += 1
    assert checked >= 5
    assert len(reader.hash_clip(root, "scene-0001")) == 64


def test_scenes_of_one_drive_share_a_group(tmp_path):
    # nuScenes cuts each drive (log) into consecutive 20 s scenes: they pass the same places, so they share a split
    tables = _tables()
    tables["scene"][0]["log_token"] = "log-a"
    tables["scene"].append({"token": "sc2", "name": "scene-0062", "first_sample_token": "s0", "log_token": "log-a"})
    tables["scene"].append({"token": "sc3", "name": "scene-0100", "first_sample_token": "s0", "log_token": "log-b"})
    tables["scene"].append({"token": "sc4", "name": "scene-0200", "first_sample_token": "s0"})
    tables["log"] = [{"token": "log-a", "logfile": "n015-2018-07-24-11-22-45+0800", "location": "singapore"}]
    root = _write(tmp_path, tables)
    reader = get_reader("nuscenes")
    groups = {name: reader.group_of(root, name) for name in reader.list_clips(root)}
    assert groups == {
        "scene-0061": "n015-2018-07-24-11-22-45+0800",
        "scene-0062": "n015-2018-07-24-11-22-45+0800",
        "scene-0100": "log-b",  # a log token that log.json does not describe
        "scene-0200": "scene-0200",  # no log: its own group
    }


def test_a_broken_scene_is_named_when_read_or_hashed(tmp_path):
    tables = _tables()
    tables["sample_data"] = [d for d in tables["sample_data"] if d["token"] != "CAM_FRONT1"]  # s1 has no camera
    root = _write(tmp_path / "no_camera", tables)
    reader = get_reader("nuscenes")
    for call in (reader.read_clip, reader.hash_clip):
        with pytest.raises(SourceFormatError, match=r"sample_data\.json: sample s1 has no CAM_FRONT"):
            call(root, "scene-0061")
    tables = _tables()
    tables["sample"][1]["next"] = "s0"  # a loop
    root = _write(tmp_path / "loop", tables)
    with pytest.raises(SourceFormatError, match=r"sample\.json: scene scene-0061 sample chain breaks at s0"):
        reader.read_clip(root, "scene-0061")


def test_a_symbolic_link_out_of_the_dataroot_is_refused_but_the_hub_cache_is_followed(tmp_path):
    # a dataset downloaded into the Hugging Face cache is a snapshot folder of links into the repository's blobs/
    repo = tmp_path / "datasets--someone--nusc"
    root = _write(repo / "snapshots" / "abc123", _tables())
    (repo / "blobs").mkdir()
    (repo / "blobs" / "f00d").write_bytes(b"jpeg")
    (root / "samples" / "CAM_FRONT").mkdir(parents=True)
    for i in range(2):
        (root / "samples" / "CAM_FRONT" / f"{i}.jpg").symlink_to(repo / "blobs" / "f00d")
    reader = get_reader("nuscenes")
    assert len(reader.read_clip(root, "scene-0061").frames) == 2
    # the same links from a folder that is not a hub snapshot leave the dataset
    plain = tmp_path / "plain"
    (repo / "snapshots" / "abc123").rename(plain)
    with pytest.raises(SourceFormatError, match=r"filename gives 'samples/CAM_FRONT/0\.jpg', which resolves outside"):
        reader.read_clip(plain, "scene-0061")
