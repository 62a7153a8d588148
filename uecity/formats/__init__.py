"""Other tools' file conventions, each decided once: one module per convention.

- `mot_challenge`: MOTChallenge box lines (1-based frames, pixel `x, y, w, h`), sequence names
  `<video>+<expression>`, seqmaps, `seqinfo.ini` and TrackEval's default folder layout.
- `refer_kitti`: the Refer-KITTI tree (images, `labels_with_ids`, expression files,
  `refer-kitti.train`, `seqmap.txt`), its label lines and expression JSON, and the RMOT results
  layout (`<video>/<expression>/predict.txt`).

Exporters, readers, the tracker's writer, the evaluation and the test fixtures go through these
modules; box-format arithmetic stays in `uecity.core.box_formats`.
"""
