"""Scribbles in and out of the annotation tools people use, read and written with the tools' own code.

One module per format. labelme, Label Studio and CVAT need the ``interchange`` extra
(``pip install 'scribblesim[interchange]'``), imported only when a command uses them; a
COCO file of strokes (:mod:`.coco`) needs core scribblesim only.
"""
