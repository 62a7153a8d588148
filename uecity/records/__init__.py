"""The dataset contract: one pydantic model per on-disk record (see `schemas/` for JSON Schema).

Layout of a native dataset:

```
<root>/dataset.json                        DatasetManifest
<root>/videos/<vid>/video.json             VideoInfo
<root>/videos/<vid>/frames/000000.jpg      frames (or .png), 0-based
<root>/videos/<vid>/objects.json           ObjectsFile
<root>/videos/<vid>/boxes.parquet          rows of BoxRow (BOX_SCHEMA); in memory a VideoBoxes
<root>/videos/<vid>/motion.json            MotionFile
<root>/expressions/<vid>/<id>.json         Expression
```
"""

from uecity.records.base import FORMAT_VERSION, RGB, FrameIndex, Record, TrackId, VideoId
from uecity.records.boxes import BOX_SCHEMA, OPTIONAL_BOX_COLUMNS, REQUIRED_BOX_COLUMNS, BoxRow
from uecity.records.expressions import Expression, LogicNode
from uecity.records.manifest import DatasetManifest, GeneratorInfo, Vocabulary
from uecity.records.motion import MotionFile, MotionInterval
from uecity.records.objects import Category, ObjectRecord, ObjectsFile
from uecity.records.video import CameraExtrinsics, CameraIntrinsics, CameraModel, VideoInfo

__all__ = [
    "BOX_SCHEMA",
    "FORMAT_VERSION",
    "OPTIONAL_BOX_COLUMNS",
    "REQUIRED_BOX_COLUMNS",
    "RGB",
    "BoxRow",
    "CameraExtrinsics",
    "CameraIntrinsics",
    "CameraModel",
    "Category",
    "DatasetManifest",
    "Expression",
    "FrameIndex",
    "GeneratorInfo",
    "LogicNode",
    "MotionFile",
    "MotionInterval",
    "ObjectRecord",
    "ObjectsFile",
    "Record",
    "TrackId",
    "VideoId",
    "VideoInfo",
    "Vocabulary",
]
