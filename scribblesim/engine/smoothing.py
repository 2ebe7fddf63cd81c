"""Bezier smoothing of point sequences with a bounded curve degree."""

from __future__ import annotations

import math

import bezier
import numpy as np


def resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Points along the polyline ``points`` every ``spacing`` of arc length, ends kept."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    if arc[-1] == 0.0:
        return points[:1].copy()
    count = max(2, math.ceil(arc[-1] / spacing) + 1)
    targets = np.linspace(0.0, arc[-1], count)
    return np.stack([np.interp(targets, arc, points[:, k]) for k in range(2)], axis=1)


def bezier_smooth(control: np.ndarray, degree: int, *, closed: bool = False) -> np.ndarray:
    """Smooth a sequence of control points with piecewise Bezier curves.

    Consecutive pieces share an end point and have at most ``degree`` + 1 control
    points each: one curve through hundreds of points would cost about a second in
    the ``bezier`` package and shrink the stroke towards its middle. Each piece is
    sampled about once per pixel of its control polygon.

    Parameters
    ----------
    control : ndarray, shape (M, 2)
        Control points as (x, y).
    degree : int
        Highest degree of a piece.
    closed : bool
        Treat the points as a loop (the curve returns to its first point).

    Returns
    -------
    ndarray, shape (K, 2)
        Points of the smooth curve.
    """
    if closed and len(control) > 2:
        control = np.concatenate([control, control[:1]])
    if len(control) < 3:
        return control.astype(float)
    # (x, y) rows of a Fortran-ordered (2, M) array: every piece's nodes are then a view
    # the bezier package takes as they are (no copy, no check: they come from here).
    columns = np.asfortranarray(np.asarray(control, dtype=float).T)
    steps = np.linalg.norm(np.diff(columns, axis=1), axis=0)
    pieces = []
    for start in range(0, len(control) - 1, degree):
        stop = min(start + degree, len(control) - 1)
        polygon_length = float(steps[start:stop].sum())
        curve = bezier.Curve(columns[:, start : stop + 1], degree=stop - start, copy=False, verify=False)
        points = curve.evaluate_multi(np.linspace(0.0, 1.0, max(2, math.ceil(polygon_length) + 1))).T
        pieces.append(points if start == 0 else points[1:])
    return np.concatenate(pieces)
