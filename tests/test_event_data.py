"""Event-camera datasets: N-MNIST, DVS128 Gesture and CIFAR10-DVS from tiny files in their on-disk layouts,
read by tonic's own classes and framed by tonic's ToFrame (nothing downloads); the offline digits-dvs."""

from __future__ import annotations

import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import tonic
import torch
from dataset_files import write_aedat4_events, write_dvsgesture_npy, write_nmnist_bin

from snasnet.core.errors import DataError
from snasnet.data import digits_dvs
from snasnet.data.datasets import get_dataset
from snasnet.data.events import EVENT_DATASETS, get_event_dataset, list_event_datasets


def in_whole_bins(t: np.ndarray, bins: int) -> np.ndarray:
    """The events ToFrame(n_time_bins) counts: bins of (t_last - t_first) // bins from the first event; the
    rest after the last whole bin (at least the last event) fall out."""
    t = np.sort(t)
    return t < t[0] + bins * ((t[-1] - t[0]) // bins)


def events(rng: np.random.Generator, n: int, size: int, duration: int) -> tuple[np.ndarray, ...]:
    x, y = rng.integers(0, size, n), rng.integers(0, size, n)
    return x, y, np.sort(rng.integers(0, duration, n)), rng.integers(0, 2, n)


def by_hand(x, y, t, p, bins: int, size: int, scale: float = 1.0) -> np.ndarray:
    """Frames [T, 2, H, W] counted in Python, with coordinates scaled as tonic's Downsample does (floor)."""
    frames = np.zeros((bins, 2, size, size))
    order = np.argsort(t, kind="stable")
    x, y, t, p = x[order], y[order], t[order], p[order]
    window = (t[-1] - t[0]) // bins
    for xi, yi, ti, pi in zip(x, y, t, p, strict=True):
        b = (ti - t[0]) // window
        if b < bins:
            frames[b, pi, int(yi * scale), int(xi * scale)] += 1
    return frames


def test_event_datasets_are_registered_and_also_named_by_the_jobs_datasets():
    from snasnet.data.datasets import list_datasets

    assert list_event_datasets() == ["nmnist", "dvsgesture", "cifar10dvs", "digits-dvs"]
    assert list_datasets()[-4:] == list_event_datasets()  # what --dataset takes (snasnet.data.datasets.DATASETS)
    settings = {n: (EVENT_DATASETS.get(n).timesteps, EVENT_DATASETS.get(n).image_size) for n in list_event_datasets()}
    assert settings == {"nmnist": (10, 34), "dvsgesture": (16, 128), "cifar10dvs": (10, 48), "digits-dvs": (6, 20)}


def test_nmnist_bin_files_are_read_by_tonic_and_framed_with_every_whole_bin_event(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for split, label, name in (("Train", 0, "00002"), ("Train", 3, "00001"), ("Test", 7, "00005")):
        written[split, label] = events(rng, 500, 34, 300_000)
        write_nmnist_bin(tmp_path / "NMNIST" / split / str(label) / f"{name}.bin", *written[split, label])
    bundle = get_event_dataset("nmnist", data_dir=tmp_path)
    assert isinstance(bundle.test.base.dataset, tonic.datasets.NMNIST)
    assert (len(bundle.train), len(bundle.test), bundle.num_classes, bundle.timesteps) == (2, 1, 10, 10)
    assert (bundle.in_channels, bundle.image_size) == (2, 34)
    frames, label = bundle.test[0]
    assert (frames.shape, frames.dtype, label) == ((10, 2, 34, 34), torch.float32, 7)
    x, y, t, p = written["Test", 7]
    assert frames.sum() == in_whole_bins(t, 10).sum() > 450
    np.testing.assert_array_equal(frames.numpy(), by_hand(x, y, t, p, 10, 34))
    assert [label for _, label in bundle.train] == [0, 3]  # tonic's order: class folders sorted
    # a DataLoader worker that spawns gets the dataset pickled
    assert torch.equal(pickle.loads(pickle.dumps(bundle.test))[0][0], frames)
    # converted once: the cache answers when the recording is gone
    assert (tmp_path / "snasnet-cache" / "nmnist-T10-34px" / "test-1" / "0_0.hdf5").is_file()
    (tmp_path / "NMNIST" / "Test" / "7" / "00005.bin").write_bytes(b"")
    assert torch.equal(get_event_dataset("nmnist", data_dir=tmp_path).test[0][0], frames)


def test_nmnist_frames_at_another_timestep_count_are_cached_apart(tmp_path):
    rng = np.random.default_rng(1)
    for split in ("Train", "Test"):
        write_nmnist_bin(tmp_path / "NMNIST" / split / "4" / "00001.bin", *events(rng, 300, 34, 200_000))
    assert get_event_dataset("nmnist", data_dir=tmp_path).test[0][0].shape == (10, 2, 34, 34)
    bundle = get_event_dataset("nmnist", data_dir=tmp_path / "NMNIST", timesteps=4)  # the folder itself is fine
    assert bundle.test[0][0].shape == (4, 2, 34, 34)


def test_dvsgesture_npy_samples_are_read_by_tonic_and_downsampled(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "DVSGesture"
    written = {}
    for split, user, label in (("ibmGestureTrain", "user01_fluorescent", 2), ("ibmGestureTest", "user24_led", 9)):
        x, y, t, p = events(rng, 800, 128, 6000)  # t in ms
        x[:3], y[:3] = 127, 127  # the corner pixel lands in the corner of the downsampled frame
        written[split] = x, y, t * 1000, p
        write_dvsgesture_npy(folder / split / user / f"{label}.npy", x, y, p, t)
    write_dvsgesture_npy(folder / "ibmGestureTrain" / "user02_natural" / "10.npy", *events(rng, 50, 128, 900))
    bundle = get_event_dataset("dvsgesture", data_dir=tmp_path, image_size=32)
    assert isinstance(bundle.test.base.dataset, tonic.datasets.DVSGesture)
    assert (len(bundle.train), len(bundle.test), bundle.num_classes, bundle.image_size) == (2, 1, 11, 32)
    assert sorted(label for _, label in bundle.train) == [2, 10]
    frames, label = bundle.test[0]
    assert (frames.shape, label) == ((16, 2, 32, 32), 9)
    x, y, t, p = written["ibmGestureTest"]
    assert frames.sum() == in_whole_bins(t, 16).sum() > 750
    np.testing.assert_array_equal(frames.numpy(), by_hand(x, y, t, p, 16, 32, scale=0.25))
    assert bundle.train is bundle.train_plain  # no augmentation: a flip would swap left- and right-hand classes


def test_cifar10dvs_aedat4_files_are_read_by_tonic_split_9_to_1_per_class_and_augmented(tmp_path):
    rng = np.random.default_rng(3)
    written = {}
    for name in ("airplane", "cat"):
        for i in range(10):
            x, y, t, p = events(rng, 200, 128, 1_000_000)
            written[name, i] = x, y, t, p
            write_aedat4_events(tmp_path / "CIFAR10DVS" / name / f"cifar10_{name}_{i}.aedat4", t, x, y, p)
    bundle = get_event_dataset("cifar10dvs", data_dir=tmp_path)
    assert isinstance(bundle.test.dataset.base.dataset, tonic.datasets.CIFAR10DVS)
    assert (len(bundle.train), len(bundle.test), bundle.num_classes, bundle.timesteps) == (18, 2, 10, 10)
    assert bundle.classes[:4] == ["airplane", "automobile", "bird", "cat"]
    # the test split: the last recording of each class by file name (cifar10_<class>_9 sorts after _0 ... _8)
    for (frames, label), name in zip(bundle.test, ("airplane", "cat"), strict=True):
        assert (frames.shape, label) == ((10, 2, 48, 48), bundle.classes.index(name))
        x, y, t, p = written[name, 9]
        assert frames.sum() == in_whole_bins(t, 10).sum() > 180
        np.testing.assert_array_equal(frames.numpy(), by_hand(x, y, t, p, 10, 48, scale=48 / 128))
    # training frames: TET's flip and roll by up to 5 pixels of the plain frames
    plain = bundle.train_plain[4][0]
    seen = set()
    for epoch in range(12):
        bundle.train.set_epoch(epoch)
        moved = bundle.train[4][0]
        found = [
            (flip, dy, dx)
            for flip in (False, True)
            for dy in range(-5, 6)
            for dx in range(-5, 6)
            if torch.equal((plain.flip(-1) if flip else plain).roll((dy, dx), dims=(-2, -1)), moved)
        ]
        assert found, f"epoch {epoch}: not a flip and roll of the frames"
        seen.add(found[0][0])
    assert seen == {False, True}


@pytest.mark.parametrize(
    ("name", "looked_for", "archive"),
    [
        ("nmnist", "NMNIST/Train", "train.zip"),
        ("dvsgesture", "DVSGesture/ibmGestureTrain", "ibmGestureTrain.tar.gz"),
        ("cifar10dvs", "CIFAR10DVS", "CIFAR10DVS.zip"),
    ],
)
def test_missing_event_dataset_says_where_it_looked_and_how_to_get_it(tmp_path, name, looked_for, archive):
    with pytest.raises(DataError) as info:
        get_event_dataset(name, data_dir=tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message
    assert str((tmp_path / "nowhere" / looked_for).resolve()) in message
    assert "--download" in message and archive in message
    assert not (tmp_path / "nowhere").exists()  # nothing was downloaded or created


def test_download_is_tonics_and_a_failed_one_says_what_to_do(tmp_path, monkeypatch):
    fetched = []

    def unpack(self):  # tonic's download, without the network: the archive's files appear in its folder
        fetched.append(self.url)
        write_nmnist_bin(Path(self.location_on_system, self.folder_name, "1", "00001.bin"), *written)

    written = events(np.random.default_rng(4), 100, 34, 100_000)
    monkeypatch.setattr(tonic.dataset.Dataset, "download", unpack)
    bundle = get_event_dataset("nmnist", data_dir=tmp_path, download=True)
    assert fetched == [tonic.datasets.NMNIST.train_url, tonic.datasets.NMNIST.test_url]
    assert bundle.test[0][0].sum() == in_whole_bins(written[2], 10).sum()
    get_event_dataset("nmnist", data_dir=tmp_path, download=True)
    assert len(fetched) == 2  # there already: not fetched again

    def offline(self):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tonic.dataset.Dataset, "download", offline)
    with pytest.raises(DataError) as info:
        get_event_dataset("dvsgesture", data_dir=tmp_path, download=True)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("could not download DVSGesture (no network)") and "ibmGestureTrain.tar.gz" in message


def test_event_dataset_options_and_sizes_are_checked():
    with pytest.raises(DataError, match="'nmnist' does not take the option.*shift"):
        get_event_dataset("nmnist", shift=1)
    with pytest.raises(DataError, match="image_size between 1 and the sensor's 34"):
        get_event_dataset("nmnist", image_size=64)
    with pytest.raises(DataError, match="unknown event dataset 'dvs'"):
        get_event_dataset("dvs")


# --- digits-dvs ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_dvs_root(tmp_path_factory):
    """One generation for the module's tests (a few seconds)."""
    root = tmp_path_factory.mktemp("data")
    get_event_dataset("digits-dvs", data_dir=root)
    return root


def test_digits_dvs_has_digits_classes_and_split_as_frames(digits_dvs_root):
    bundle, digits = get_event_dataset("digits-dvs", data_dir=digits_dvs_root), get_dataset("digits")
    assert (len(bundle.train), len(bundle.test), bundle.num_classes) == (1437, 360, 10)
    assert torch.equal(bundle.train.tensors[1], digits.train.tensors[1])  # the same images, in the same order
    assert torch.equal(bundle.test.tensors[1], digits.test.tensors[1])
    frames = bundle.test.tensors[0]
    assert (frames.shape[1:], frames.dtype) == ((6, 2, 20, 20), torch.float32)
    assert (frames[:, :, 0].sum() > 0).all() and (frames[:, :, 1].sum() > 0).all()  # OFF and ON in every sample


def test_digits_dvs_recordings_are_tonic_events_cached_once(digits_dvs_root, monkeypatch):
    settings = digits_dvs.CameraSettings()
    recordings, labels = digits_dvs.load_recordings(digits_dvs_root, settings)
    assert len(recordings) == len(labels) == 1797
    assert recordings[0].dtype == tonic.io.events_struct
    counts = np.array([len(r) for r in recordings])
    assert counts.min() > 1000 and counts.max() < 3000
    for r in recordings[:50]:
        assert set(np.unique(r["p"])) == {False, True}
        assert np.all(np.diff(r["t"]) >= 0) and r["t"][0] >= 0 and r["t"][-1] <= 300_000
        assert r["x"].max() < 20 and r["y"].max() < 20
    # the frames are tonic's ToFrame of these events: every sample keeps its whole bins' events
    bundle = get_event_dataset("digits-dvs", data_dir=digits_dvs_root, timesteps=3)
    assert bundle.train.tensors[0].shape[1:] == (3, 2, 20, 20)
    framed = torch.cat([bundle.train.tensors[0], bundle.test.tensors[0]]).sum((1, 2, 3, 4))
    assert sorted(framed.tolist()) == sorted(in_whole_bins(r["t"], 3).sum() for r in recordings)

    def regenerate(settings):
        raise AssertionError("generated again")

    monkeypatch.setattr(digits_dvs, "generate", regenerate)
    again, _ = digits_dvs.load_recordings(digits_dvs_root, settings)
    assert all(np.array_equal(a, b) for a, b in zip(again, recordings, strict=True))
    # any change of the camera makes another file
    assert digits_dvs.cache_file("d", settings) != digits_dvs.cache_file("d", digits_dvs.CameraSettings(seed=1))


def test_digits_dvs_generation_is_deterministic_per_seed():
    settings = digits_dvs.CameraSettings()
    images, _ = digits_dvs.upsampled_digits(settings.digit_size)
    path, times = digits_dvs.saccade_path(settings)
    first = digits_dvs.simulate(images[:20], path, times, settings)
    again = digits_dvs.simulate(images[:20], path, times, settings)
    other = digits_dvs.simulate(images[:20], path, times, digits_dvs.CameraSettings(seed=1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))  # pixels' thresholds differ


def test_a_moving_digit_gives_events_and_a_static_one_none():
    settings = digits_dvs.CameraSettings()
    images, _ = digits_dvs.upsampled_digits(settings.digit_size)
    path, times = digits_dvs.saccade_path(settings)
    assert path.shape == (76, 2) and times[-1] == 300_000  # three 100 ms saccades in 4 ms steps
    assert np.allclose(path[[0, 25, 50, 75]], [(0, 0), (2, 4), (4, 0), (0, 0)])
    moving = digits_dvs.simulate(images[:5], path, times, settings)
    still = digits_dvs.simulate(images[:5], np.zeros_like(path), times, settings)
    assert [len(e) for e in still] == [0] * 5
    assert min(len(e) for e in moving) > 1000


def test_digits_dvs_cache_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    settings = digits_dvs.CameraSettings()
    tiny = ([np.zeros(3, dtype=tonic.io.events_struct), np.ones(2, dtype=tonic.io.events_struct)], np.array([4, 2]))
    monkeypatch.setattr(digits_dvs, "generate", lambda settings: tiny)

    def killed(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", killed)
    with pytest.raises(KeyboardInterrupt):
        digits_dvs.load_recordings(tmp_path, settings)
    assert list((tmp_path / "digits-dvs").iterdir()) == []  # neither the file nor a temporary one
    monkeypatch.undo()
    monkeypatch.setattr(digits_dvs, "generate", lambda settings: tiny)
    recordings, labels = digits_dvs.load_recordings(tmp_path, settings)
    assert [len(r) for r in recordings] == [3, 2] and labels.tolist() == [4, 2]


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("nmnist", 12, "is not a readable NMNIST recording (IndexError: "),  # random bytes: tonic's IndexError
        ("nmnist", 0, "holds no events"),  # ToFrame handed back the empty events unframed
        ("cifar10dvs", 5000, "is not a readable CIFAR10DVS recording (RuntimeError: invalid utf-8"),
    ],
)
def test_a_damaged_recording_is_one_line_naming_its_file_also_from_a_worker(tmp_path, name, size, reason):
    """Issue 24, item 10: random bytes in tonic's layout gave a traceback from tonic's reader (in a worker: the
    worker's whole traceback as the message)."""
    rng = np.random.default_rng(0)
    if name == "nmnist":
        files = [tmp_path / "NMNIST" / split / "7" / "00005.bin" for split in ("Train", "Test")]
    else:
        files = [tmp_path / "CIFAR10DVS" / "cat" / f"cifar10_cat_{i}.aedat4" for i in range(10)]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.bytes(size))
    test = get_event_dataset(name, data_dir=tmp_path).test
    damaged = files[-1]  # the test split's recording
    with pytest.raises(DataError) as direct:
        test[0]
    with pytest.raises(DataError) as from_worker:
        next(iter(torch.utils.data.DataLoader(test, num_workers=1)))
    for caught in (direct, from_worker):
        message = str(caught.value)
        assert message.startswith(f"{damaged} {reason}") and message.endswith("replace or remove it"), message
        assert "\n" not in message
