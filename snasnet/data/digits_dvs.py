"""``digits-dvs``: scikit-learn's 8x8 digits recorded by a simulated event camera, the way N-MNIST was made
from MNIST (Orchard et al., "Converting static image datasets to spiking neuromorphic datasets using
saccades", Front. Neurosci. 2015): the image moves along three saccades in front of the sensor, which emits
events where the light it sees changes.

The camera model (a DVS pixel, as in ESIM / v2e): each pixel keeps a reference level of its log intensity
``L = log(I + eps)`` (``I`` in [0, 1], ``eps`` keeps black finite), set to ``L`` at t = 0. Whenever ``L``
rises ``C_on`` above the reference the pixel emits an ON event (p = 1) and the reference moves up by ``C_on``;
a fall of ``C_off`` gives an OFF event (p = 0). A change of several thresholds within one simulation step
gives several events, their times interpolated linearly between the step's ends. The thresholds vary from
pixel to pixel (a fixed pattern drawn from the seed, as real sensors' mismatch), so the same seed gives the
same recording. Timestamps are in microseconds, as N-MNIST's.

Events are tonic's structured arrays (``tonic.io.events_struct``: x, y, t, p), so tonic's transforms
(``ToFrame``) apply to them as to N-MNIST's. Generating all 1797 recordings takes a few seconds; the result is
cached atomically (compressed: about 16 MB) in ``<data dir>/digits-dvs/`` under a name that changes with any parameter.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from snasnet.core.atomic import atomic_file

#: tonic's event dtype (``tonic.io.events_struct``), written out so that generating needs no tonic import
EVENTS_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CameraSettings:
    """The recording's parameters; every one of them is part of the cache file's name."""

    digit_size: int = 16  # the 8x8 digit upsampled (bilinear) to this size on the sensor
    sensor_size: int = 20  # room for the saccades around the digit
    # N-MNIST's saccade triangle (0,0) -> (3.5,7) -> (7,0) -> (0,0) pixels for a 28-pixel digit on a 34-pixel
    # sensor (Orchard et al. 2015; tonic's NMNIST.stabilize), scaled to a 16-pixel digit: (x, y) offsets
    saccades: tuple[tuple[float, float], ...] = ((0.0, 0.0), (2.0, 4.0), (4.0, 0.0), (0.0, 0.0))
    saccade_us: int = 100_000  # N-MNIST: three saccades of about 100 ms each
    step_us: int = 4_000  # simulation step: at most 0.18 pixel of motion per step
    eps: float = 0.2  # log(I + eps): black is log(0.2), white log(1.2)
    threshold: float = 0.3  # contrast threshold in log units (DVS pixels: about 0.15 to 0.3)
    threshold_spread: float = 0.03  # per-pixel standard deviation of the thresholds (fixed-pattern mismatch)
    seed: int = 0

    def key(self) -> str:
        text = json.dumps({"version": FORMAT_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def upsampled_digits(size: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as intensities in [0, 1], ``[N, size, size]`` float32, and their labels."""
    import torch
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images / 16.0).unsqueeze(1)
    images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.squeeze(1).clamp(0, 1).float().numpy(), bunch.target.astype(np.int64)


def render(images: np.ndarray, x: float, y: float, sensor: int) -> np.ndarray:
    """The images placed at offset (x, y) >= 0 on a black ``sensor`` x ``sensor`` field, bilinear for
    fractional offsets (the digit moves smoothly, as on N-MNIST's monitor)."""
    n, size, _ = images.shape
    ix, iy = int(np.floor(x)), int(np.floor(y))
    fx, fy = x - ix, y - iy
    if ix + size + (fx > 0) > sensor or iy + size + (fy > 0) > sensor or ix < 0 or iy < 0:
        raise ValueError(f"offset ({x}, {y}) moves a {size}-pixel digit off a {sensor}-pixel sensor")
    field = np.zeros((n, sensor + 1, sensor + 1), dtype=images.dtype)  # one spare row/column for the fractional part
    field[:, iy + 1 : iy + 1 + size, ix + 1 : ix + 1 + size] = images
    # out[y, x] = image at (y - oy, x - ox): a blend of field[y + 1 - a, x + 1 - b], a, b in {0, 1}
    return (
        (1 - fy) * (1 - fx) * field[:, 1:, 1:]
        + (1 - fy) * fx * field[:, 1:, :-1]
        + fy * (1 - fx) * field[:, :-1, 1:]
        + fy * fx * field[:, :-1, :-1]
    )


def saccade_path(settings: CameraSettings) -> tuple[np.ndarray, np.ndarray]:
    """The offset (x, y) of the digit at every simulation step: straight lines between the saccade corners,
    ``saccade_us`` each; and the steps' times in microseconds."""
    corners = np.asarray(settings.saccades, dtype=float)
    per_saccade = settings.saccade_us // settings.step_us
    fractions = np.arange(per_saccade) / per_saccade
    points = [
        corners[i] + (corners[i + 1] - corners[i]) * f[:, None] for i, f in enumerate([fractions] * (len(corners) - 1))
    ]
    path = np.concatenate([*points, corners[-1:]])
    return path, np.arange(len(path), dtype=np.int64) * settings.step_us


def simulate(images: np.ndarray, path: np.ndarray, times: np.ndarray, settings: CameraSettings) -> list[np.ndarray]:
    """The events the camera emits while ``images`` ([N, size, size], intensities in [0, 1]) move along
    ``path`` ([S, 2] offsets x, y at ``times`` µs): one structured array (x, y, t, p), sorted by t, per image."""
    sensor = settings.sensor_size
    rng = np.random.default_rng(settings.seed)
    spread = settings.threshold_spread
    c_on, c_off = (
        np.clip(settings.threshold + spread * rng.standard_normal((sensor, sensor)), 0.05, None) for _ in range(2)
    )
    level_prev = np.log(render(images, *path[0], sensor) + settings.eps)
    reference = level_prev.copy()
    found = []  # per step: (image, y, x, t, p) of its events
    for (x, y), t0, t1 in zip(path[1:], times[:-1], times[1:], strict=True):
        level = np.log(render(images, x, y, sensor) + settings.eps)
        for polarity, sign, threshold in ((1, 1.0, c_on), (0, -1.0, c_off)):
            crossings = np.floor(sign * (level - reference) / threshold).astype(np.int64).clip(0, None)
            where = np.nonzero(crossings)
            if not where[0].size:
                continue
            counts = crossings[where]
            # j = 1 .. count: the j-th threshold crossed in this step
            j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
            cell = tuple(np.repeat(w, counts) for w in where)
            start, end, c = reference[cell], level[cell], threshold[cell[1:]]
            # when, between t0 and t1, L passed reference + sign * j * C (L moves linearly within the step)
            fraction = (start + sign * j * c - level_prev[cell]) / (end - level_prev[cell])
            t = t0 + np.rint(np.clip(fraction, 0, 1) * (t1 - t0)).astype(np.int64)
            found.append((cell[0], cell[1], cell[2], t, np.full(t.size, polarity)))
            reference[where] += sign * counts * threshold[where[1:]]
        level_prev = level
    empty = (np.zeros(0, dtype=np.int64),) * 5
    image, ys, xs, ts, ps = (np.concatenate(parts) for parts in zip(empty, *found, strict=True))
    order = np.lexsort((xs, ys, ts, image))
    events = np.empty(order.size, dtype=EVENTS_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = xs[order], ys[order], ts[order], ps[order]
    bounds = np.searchsorted(image[order], np.arange(len(images) + 1))
    return [events[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def generate(settings: CameraSettings) -> tuple[list[np.ndarray], np.ndarray]:
    """Every digit's recording (events per image) and the labels; deterministic for ``settings``."""
    images, labels = upsampled_digits(settings.digit_size)
    path, times = saccade_path(settings)
    return simulate(images, path, times, settings), labels


def cache_file(root: str | os.PathLike, settings: CameraSettings) -> Path:
    return Path(root) / "digits-dvs" / f"digits-dvs-{settings.key()}.npz"


def load_recordings(root: str | os.PathLike, settings: CameraSettings) -> tuple[list[np.ndarray], np.ndarray]:
    """The recordings from the cache under ``root``, generated and written there (atomically) on first use."""
    path = cache_file(root, settings)
    if not path.is_file():
        events, labels = generate(settings)
        offsets = np.cumsum([0] + [len(e) for e in events])
        with atomic_file(path, "wb") as f:
            np.savez_compressed(f, events=np.concatenate(events), offsets=offsets, labels=labels)
    with np.load(path) as stored:
        events, offsets, labels = stored["events"], stored["offsets"], stored["labels"]
    return [events[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)], labels
