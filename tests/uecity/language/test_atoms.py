import numpy as np

from tests.factories import build_small_dataset
from uecity.language.atoms import AtomTable, VideoFacts, referents_by_frame
from uecity.language.vocabulary import load_vocabulary
from uecity.records import LogicNode, MotionInterval


def _table(tmp_path, intervals=None):
    dataset = build_small_dataset(tmp_path / "d")
    video = dataset.video("0001")
    if intervals is not None:
        video.write_motion(intervals)
    return AtomTable(load_vocabulary(), VideoFacts.from_video(video))


def _referred(table, node):
    return referents_by_frame(table.facts, table.evaluate(node))


def atom(name):
    return LogicNode(op="atom", atom=name)


def test_object_atoms_hold_on_every_frame_of_the_track(tmp_path):
    table = _table(tmp_path)
    assert _referred(table, atom("colour=red")) == {str(f): [0] for f in range(5)}
    assert _referred(table, atom("type=bus")) == {"0": [1], "1": [1], "2": [1]}
    assert _referred(table, atom("category=pedestrian")) == {"3": [2], "4": [2]}
    assert _referred(table, atom("colour=green")) == {}


def test_motion_interval_bounds_are_inclusive(tmp_path):
    intervals = [
        MotionInterval(track_id=0, label="turning left", start=1, end=3, source="auto"),
        MotionInterval(track_id=1, label="motion:Stopped", start=2, end=2, source="manual"),
    ]
    table = _table(tmp_path, intervals)
    assert _referred(table, atom("manoeuvre=turning-left")) == {"1": [0], "2": [0], "3": [0]}
    assert _referred(table, atom("manoeuvre=turning")) == {"1": [0], "2": [0], "3": [0]}
    assert _referred(table, atom("motion=stopped")) == {"2": [1]}  # prefix and case ignored
    assert _referred(table, atom("manoeuvre=turning-right")) == {}


def test_box_position_atoms(tmp_path):
    # 64x48 image: track 0 centre x ~ (11+frame)/64 (left), track 1 at 40/64 (right),
    # track 2 at 43/64 (right); bottoms: 16/48 (far), 30/48 and 40/48 (near, >= 0.6).
    table = _table(tmp_path)
    assert _referred(table, atom("position=left")) == {str(f): [0] for f in range(5)}
    assert _referred(table, atom("position=right")) == {
        "0": [1],
        "1": [1],
        "2": [1],
        "3": [2],
        "4": [2],
    }
    assert _referred(table, atom("position=far")) == {str(f): [0] for f in range(5)}
    assert _referred(table, atom("position=near")) == {
        "0": [1],
        "1": [1],
        "2": [1],
        "3": [2],
        "4": [2],
    }


def test_and_or_act_per_frame(tmp_path):
    intervals = [
        MotionInterval(track_id=0, label="moving", start=0, end=1, source="auto"),
        MotionInterval(track_id=1, label="moving", start=2, end=2, source="auto"),
    ]
    table = _table(tmp_path, intervals)
    red_and_moving = LogicNode(op="and", args=[atom("colour=red"), atom("motion=moving")])
    assert _referred(table, red_and_moving) == {"0": [0], "1": [0]}
    bus_or_moving = LogicNode(op="or", args=[atom("type=bus"), atom("motion=moving")])
    assert _referred(table, bus_or_moving) == {"0": [0, 1], "1": [0, 1], "2": [1]}


def test_masks_are_one_boolean_per_box_row(tmp_path):
    table = _table(tmp_path)
    mask = table.mask("colour=black")
    assert mask.dtype == np.bool_ and mask.shape == (table.facts.num_rows,)


def test_an_unknown_colour_matches_no_colour_atom(tmp_path):
    """A vehicle whose colour is unknown (observe mode: never seen) is never referred to by a
    colour, whatever the colour, while its other attributes still hold."""
    video = build_small_dataset(tmp_path / "d").video("0001")
    objects = video.objects()
    video.write_objects(
        [
            o.model_copy(update={"colour_name": None, "colour_rgb": None}) if o.track_id == 0 else o
            for o in objects
        ]
    )
    vocabulary = load_vocabulary()
    table = AtomTable(vocabulary, VideoFacts.from_video(video))
    for colour in (a.id for a in vocabulary.atoms if a.attribute == "colour"):
        assert 0 not in {t for ids in _referred(table, atom(colour)).values() for t in ids}
    assert _referred(table, atom("category=vehicle"))["4"] == [0]
