import xml.etree.ElementTree as ET

from tests.factories import build_small_dataset
from uecity.export import export_dataset


def test_cvat_xml_parses_and_carries_motion(tmp_path):
    dataset = build_small_dataset(tmp_path / "d")
    out = tmp_path / "cvat"
    export_dataset(dataset, out, "cvat")
    root = ET.parse(out / "0001.xml").getroot()
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    assert root.findtext("meta/task/size") == "5"
    tracks = root.findall("track")
    assert [t.get("label") for t in tracks] == ["vehicle", "vehicle", "pedestrian"]
    bus = tracks[1]
    boxes = bus.findall("box")
    # The bus is stopped on frames 0..2 and has boxes there; frame 3 closes the track.
    assert [b.get("frame") for b in boxes] == ["0", "1", "2", "3"]
    assert boxes[-1].get("outside") == "1"
    stopped = [b.find("attribute[@name='stopped']").text for b in boxes[:3]]
    assert stopped == ["true", "true", "true"]
    assert boxes[0].find("attribute[@name='moving']").text == "false"
    assert boxes[0].find("attribute[@name='type']").text == "bus"
    assert (boxes[0].get("xtl"), boxes[0].get("xbr")) == ("30.00", "50.00")
