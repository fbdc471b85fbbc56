"""The report's figures: each drawn by a function from results.json (and eval arrays) to a
matplotlib Figure, saved as SVG.

    study.py      the study's eight figures        beyond.py   the analyses beyond the study
    panels.py     drawing helpers they share       style.py    sizes, palette, rcParams
    arrays.py     images and maps in eval arrays   cam.py      Grad-CAM maps for display
    grid.py       the grid's seeds and ablation    svg.py      a Figure as the report's SVG
    registry.py   every figure by its name
    drawing.py    the figures drawn in worker processes

It imports nothing: report.figures.drawing forks its workers before anything imports matplotlib.
"""
