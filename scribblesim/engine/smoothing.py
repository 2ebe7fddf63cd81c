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
    pieces = []
    for start in range(0, len(control) - 1, degree):
        nodes = control[start : start + degree + 1]
        polygon_length = float(np.linalg.norm(np.diff(nodes, axis=0), axis=1).sum())
        samples = np.linspace(0.0, 1.0, max(2, math.ceil(polygon_length) + 1))
        curve = bezier.Curve(np.asfortranarray(nodes.T, dtype=float), degree=len(nodes) - 1)
        points = curve.evaluate_multi(samples).T
        pieces.append(points if start == 0 else points[1:])
    return np.concatenate(pieces)
