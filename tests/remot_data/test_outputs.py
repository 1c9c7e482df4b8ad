"""Output safety: nothing remot did not create is replaced, versions switch atomically, one writer at a time."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from remot_data.demo.corpus import write_demo_corpus
from remot_data.errors import ContractError, OutputError
from remot_data.outputs import check_output_path, claim_output, output_lock, recover_output, versions_of
from remot_data.pipeline import BuildConfig, SourceInput, build_dataset
from remot_data.table import read_triplets
from tests.factories.scannet import SMALL_BUILD


@pytest.fixture
def two_scenes(demo_scannet_root, tmp_path):
    root = tmp_path / "corpus"
    for scene in sorted(demo_scannet_root.iterdir())[:2]:
        shutil.copytree(scene, root / scene.name)
    return root


def _inputs(root):
    return [SourceInput(source="scannet", path=root)]


@pytest.mark.parametrize(
    "where, match",
    [
        (lambda root: root, "the output is the input"),
        (lambda root: root / "scene0000_00" / "out", "lies inside the input"),
        (lambda root: root.parent, "contains the input"),
    ],
    ids=["equal", "inside", "above"],
)
def test_an_output_that_touches_an_input_is_refused_and_nothing_is_written(two_scenes, where, match):
    before = sorted(p.relative_to(two_scenes.parent) for p in two_scenes.parent.rglob("*"))
    with pytest.raises(OutputError, match=match):
        build_dataset(_inputs(two_scenes), where(two_scenes), SMALL_BUILD)
    assert sorted(p.relative_to(two_scenes.parent) for p in two_scenes.parent.rglob("*")) == before


def test_a_folder_or_file_remot_did_not_create_is_never_replaced(two_scenes, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "thesis.tex").write_text("months of work\n")
    with pytest.raises(OutputError, match=r"results: exists and is not a remot dataset"):
        build_dataset(_inputs(two_scenes), folder, SMALL_BUILD)
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"]
    file = tmp_path / "out.txt"
    file.write_text("x")
    with pytest.raises(OutputError, match="exists and is a file"):
        build_dataset(_inputs(two_scenes), file, SMALL_BUILD)
    assert file.read_text() == "x"
    claim_output(tmp_path / "exported", kind="export")
    with pytest.raises(OutputError, match="is a remot export output, not a dataset"):
        check_output_path(tmp_path / "exported", kind="dataset")


def test_rebuilds_add_versions_and_switch_latest_keeping_n(two_scenes, tmp_path):
    out = tmp_path / "out"
    first = build_dataset(_inputs(two_scenes), out, SMALL_BUILD)
    second = build_dataset(_inputs(two_scenes), out, SMALL_BUILD.model_copy(update={"seed": 1}))
    assert [v.name for v in versions_of(out)] == sorted([first["version"], second["version"]])
    assert (out / "latest").resolve().name == second["version"]
    for seed in (2, 3):
        build_dataset(_inputs(two_scenes), out, SMALL_BUILD.model_copy(update={"seed": seed, "keep_versions": 2}))
    assert len(versions_of(out)) == 2 and first["version"] not in [v.name for v in versions_of(out)]


def test_a_crash_during_publish_leaves_the_previous_version_and_is_cleaned_next_time(two_scenes, tmp_path, monkeypatch):
    import remot_data.pipeline.publish as publish

    out = tmp_path / "out"
    good = build_dataset(_inputs(two_scenes), out, SMALL_BUILD)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # killed while writing the new version's files

    monkeypatch.setattr(publish, "write_contact_sheet", crash)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(_inputs(two_scenes), out, SMALL_BUILD.model_copy(update={"seed": 1}))
    assert json.loads((out / "latest" / "manifest.json").read_text())["version"] == good["version"]
    # a hard kill leaves the temporary version and a dangling link: the next run cleans and restores
    (out / "versions" / ".tmp-20990101T000000Z-abcdef").mkdir()
    (out / "latest").unlink()
    (out / "latest").symlink_to("versions/gone", target_is_directory=True)
    recover_output(out)
    assert (out / "latest").resolve().name == good["version"]
    assert not [p for p in (out / "versions").iterdir() if p.name.startswith(".tmp-")]
    assert read_triplets(out).num_rows == good["counts"]["triplets"]


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(two_scenes, tmp_path):
    out = claim_output(tmp_path / "out", kind="dataset")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from remot_data.outputs import output_lock
            with output_lock({str(out)!r}):
                print("locked", flush=True)
                time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=rf"another build is writing it \(pid {holder.pid} since"):
            build_dataset(_inputs(two_scenes), out, SMALL_BUILD)
    finally:
        holder.kill()
        holder.wait()
    with output_lock(out):  # released with its holder
        pass


def test_an_empty_or_shrunken_build_is_not_published(two_scenes, tmp_path):
    out = tmp_path / "out"
    good = build_dataset(_inputs(two_scenes), out, SMALL_BUILD)
    still = tmp_path / "still"
    for scene in two_scenes.iterdir():  # the same scenes, every pose the first one: no rotation at all
        shutil.copytree(scene, still / scene.name)
        first = sorted((still / scene.name / "pose").iterdir())[0].read_text()
        for pose in (still / scene.name / "pose").iterdir():
            pose.write_text(first)
    with pytest.raises(
        ContractError, match=r"0 triplets from 2 clips; top reject reasons: positive_still x\d+ \(e\.g\."
    ):
        build_dataset(_inputs(still), out, SMALL_BUILD)
    assert json.loads((out / "latest" / "manifest.json").read_text())["version"] == good["version"]
    one = tmp_path / "one"  # one of the two scenes: fewer triplets than the current version
    shutil.copytree(sorted(two_scenes.iterdir())[0], one / sorted(two_scenes.iterdir())[0].name)
    with pytest.raises(ContractError, match=r"against \d+ in the current version .* max_triplet_loss=0\.0"):
        build_dataset(_inputs(one), out, SMALL_BUILD.model_copy(update={"max_triplet_loss": 0.0}))
    assert json.loads((out / "latest" / "manifest.json").read_text())["version"] == good["version"]


def test_too_many_bad_clips_is_not_published(two_scenes, tmp_path):
    for scene in two_scenes.iterdir():
        (scene / "intrinsic" / "intrinsic_color.txt").write_text("nope")
    with pytest.raises(ContractError, match=r"2 of 2 clips are bad_clip rejects, more than max_bad_clip_share=0\.5"):
        build_dataset(_inputs(two_scenes), tmp_path / "out", SMALL_BUILD)


def test_the_demo_corpus_never_removes_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "corpus"
    mine.mkdir()
    (mine / "data.csv").write_text("1,2\n")
    with pytest.raises(OutputError, match="is not a remot corpus"):
        write_demo_corpus(mine)
    assert (mine / "data.csv").read_text() == "1,2\n"


def test_build_config_bounds_are_checked():
    with pytest.raises(ValueError, match="keep_versions"):
        BuildConfig(keep_versions=0)


def test_outputs_of_remot_0_1_are_adopted_not_refused(two_scenes, tmp_path):
    # remot 0.1 wrote a flat dataset and a corpus with a COMPLETE file, both without markers: upgrading keeps them
    out = tmp_path / "out"
    (out / "data" / "train").mkdir(parents=True)
    (out / "data" / "train" / "part-00000.parquet").write_bytes(b"old")
    (out / "manifest.json").write_text(json.dumps({"code_version": "0.1.0+abc", "counts": {"triplets": 1}}))
    manifest = build_dataset(_inputs(two_scenes), out, SMALL_BUILD)
    old = [v for v in versions_of(out) if v.name != manifest["version"]]
    assert len(old) == 1 and (old[0] / "data" / "train" / "part-00000.parquet").read_bytes() == b"old"
    assert (out / "latest").resolve().name == manifest["version"]
    corpus = tmp_path / "old_corpus"
    corpus.mkdir()
    (corpus / "COMPLETE").write_text("demo corpus written by remot\n")
    (corpus / "scannet").mkdir()
    assert write_demo_corpus(corpus)["scannet"] == corpus / "scannet"  # accepted as it is


def test_a_manifest_that_breaks_its_schema_is_not_published(two_scenes, tmp_path, monkeypatch):
    import remot_data.pipeline.publish as publish

    real = publish.summarise
    monkeypatch.setattr(publish, "summarise", lambda *a: {**real(*a), "counts": {"triplets": "many"}})
    with pytest.raises(ContractError, match=r"manifest\.json does not fit schemas/manifest\.schema\.json at counts"):
        build_dataset(_inputs(two_scenes), tmp_path / "out", SMALL_BUILD)
    assert not (tmp_path / "out" / "latest").exists()
