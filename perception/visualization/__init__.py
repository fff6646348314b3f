"""Every picture the package draws, one convention each:

* ``colors``: the class palette, thermal grey levels and the background to draw on (numpy only on
  import: the ROS node imports it without OpenCV, and a class has the same colour in RViz as in
  ``perception infer`` overlays; a depth-only background loads ``maps``);
* ``overlay``: segmentation colours blended over a frame and box outlines (numpy only), plus each
  box's class name and score for people (``draw_result``);
* ``maps``: sensor values as colours. Depth: turbo, **near = warm (red), far = cool (blue), linear in
  metres, its range printed on the picture**, invalid black. Thermal: grey or inferno over [0, 1];
* ``text``: labels that read on any background;
* ``panels``: tiles side by side (one picture per frame), the tile of an absent sensor, rows and
  shelves of tiles, PNG writing;
* ``gates``: which TaskExpert slot dominates each pixel, and the legend of the slot colours;
* ``visualizer``: ``MultiTaskVisualizer``, mmengine's Visualizer for the Runner.

Importing the package loads nothing: each module imports what it draws with (numpy; OpenCV for text
and colour maps; mmengine for the visualizer).
"""
