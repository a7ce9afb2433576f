"""Small dataset folders in the official layouts, written by tests (nothing can be downloaded here)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_cifar10(root: Path, per_batch: int = 4, test: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """``root/cifar-10-batches-py``: five training batches, a test batch and batches.meta, pickled as the
    official files are (rows of 3072 uint8: 1024 red, 1024 green, 1024 blue). Returns the test images
    (NHWC uint8) and labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(name: str, n: int) -> tuple[np.ndarray, list[int]]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels}, f)
        return data, labels

    for i in range(1, 6):
        batch(f"data_batch_{i}", per_batch)
    data, labels = batch("test_batch", test)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch}, f)
    return {"images": data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), "labels": np.array(labels)}


def write_cifar100(root: Path, train: int = 6, test: int = 4, seed: int = 0) -> None:
    """``root/cifar-100-python``: train, test and meta with fine and coarse labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", train), ("test", test)):
        entry = {
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "fine_labels": [int(v) for v in rng.integers(0, 100, n)],
            "coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": []}, f)


def skip_cifar_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision checks the md5 sums of the official files; test-made files cannot match them. Patched
    in the test only: the loader itself is torchvision's, unchanged."""
    import torchvision.datasets.cifar

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)


def write_image(path: Path, size: int, value: int, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    Image.fromarray(np.full(shape, value, dtype=np.uint8), mode).save(path)


def write_tinyimagenet(root: Path) -> Path:
    """``root/tiny-imagenet-200`` with two classes: train/<wnid>/images/*.JPEG (one grayscale, as some
    official images are), val/images/*.JPEG labelled by val/val_annotations.txt, wnids.txt."""
    folder = root / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819"]
    (folder).mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(reversed(wnids)) + "\n")  # not sorted, as the official file
    for c, wnid in enumerate(wnids):
        for i in range(2):
            write_image(folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", 64, 40 + 100 * c, "L" if i else "RGB")
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    lines = []
    for i, wnid in enumerate([wnids[1], wnids[0], wnids[1]]):
        write_image(folder / "val" / "images" / f"val_{i}.JPEG", 64, 10 * i)
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


# --- event-camera datasets, in the layouts tonic 1.7 reads -----------------------------------------
def write_nmnist_bin(path: Path, x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> None:
    """One N-MNIST recording: 5 bytes per event (x, y, then polarity in bit 7 and a 23-bit timestamp in
    microseconds, big-endian), as the official .bin files (and tonic.io.read_mnist_file)."""
    t = np.asarray(t, dtype=np.int64)
    assert t.max() < 2**23, "longer recordings need the format's overflow events"
    raw = np.stack([x, y, (np.asarray(p) << 7) | (t >> 16), (t >> 8) & 255, t & 255], axis=1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.tobytes())


def write_dvsgesture_npy(path: Path, x: np.ndarray, y: np.ndarray, p: np.ndarray, t_ms: np.ndarray) -> None:
    """One sample of tonic's preprocessed DVS128 Gesture: ``<split>/user<NN>_<lighting>/<label>.npy``, an
    [N, 4] array of x, y, p and t in milliseconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack([x, y, p, t_ms], axis=1).astype(np.int64))


AEDAT4_DESCRIPTION = """<dv version="2.0">
    <node name="outInfo" path="/mainloop/Recorder/outInfo/">
        <node name="0" path="/mainloop/Recorder/outInfo/0/">
            <attr key="typeIdentifier" type="string">EVTS</attr>
            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">
                <attr key="sizeX" type="int">{width}</attr>
                <attr key="sizeY" type="int">{height}</attr>
            </node>
        </node>
    </node>
</dv>
"""


def write_aedat4_events(
    path: Path, t: np.ndarray, x: np.ndarray, y: np.ndarray, on: np.ndarray, width: int = 128, height: int = 128
) -> None:
    """An uncompressed AEDAT 4 file with one event stream (what CIFAR10-DVS's .aedat4 files are and the
    ``aedat`` decoder under tonic reads): the magic line, a size-prefixed IOHeader flatbuffer ("IOHE") whose
    description names stream 0 as events of the sensor's size, then one packet: stream id, size and a
    size-prefixed EventPacket flatbuffer ("EVTS") of Event structs (t int64, x int16, y int16, on bool)."""
    import flatbuffers

    header = flatbuffers.Builder(1024)
    description = header.CreateString(AEDAT4_DESCRIPTION.format(width=width, height=height))
    header.StartObject(3)  # compression (0: none), file_data_position (-1: no table), description
    header.PrependUOffsetTRelativeSlot(2, description, 0)
    header.FinishSizePrefixed(header.EndObject(), b"IOHE")

    packet = flatbuffers.Builder(1024 + 16 * len(t))
    packet.StartVector(16, len(t), 8)
    for ti, xi, yi, oi in reversed(list(zip(t, x, y, on, strict=True))):  # flatbuffers are built back to front
        packet.Prep(8, 16)
        packet.Pad(3)
        packet.PrependBool(bool(oi))
        packet.PrependInt16(int(yi))
        packet.PrependInt16(int(xi))
        packet.PrependInt64(int(ti))
    elements = packet.EndVector()
    packet.StartObject(1)
    packet.PrependUOffsetTRelativeSlot(0, elements, 0)
    packet.FinishSizePrefixed(packet.EndObject(), b"EVTS")
    payload = bytes(packet.Output())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"#!AER-DAT4.0\r\n"
        + bytes(header.Output())
        + (0).to_bytes(4, "little")
        + len(payload).to_bytes(4, "little")
        + payload
    )
