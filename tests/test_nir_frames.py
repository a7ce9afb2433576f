"""NIR export of a digits-dvs network: one timestep whose input is one event frame; simulated (nirtorch) and
in every installed importer, frame t at step t reproduces PyTorch."""

from __future__ import annotations

import nir
import pytest
import torch
from helpers import lively_weights

from exporters.nir import export_nir
from exporters.nir_importers import check_importers, installed_importers
from exporters.nir_simulation import simulate_nir
from exporters.parity import compare_scores, torch_scores
from snasnet.network.model import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("arch", "celltype"), [("0302 0030 3003 0000", "backward"), ("0312 0022 0002 0000", "forward")]
)
def test_a_digits_dvs_network_in_nir_takes_one_frame_per_step_and_matches_pytorch(tmp_path, arch, celltype):
    model = build_model("digits-dvs", arch, celltype=celltype, timesteps=4, channels=8)
    model = lively_weights(model, seed=3).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.poisson(torch.full((32, 4, 2, 20, 20), 0.7), generator=g)
    graph = nir.read(export_nir(model, tmp_path / "model.nir"))
    assert list(graph.nodes["input"].input_type["input"]) == [2, 20, 20]  # one frame
    assert graph.metadata["input"].startswith("frame t of the event frames at step t")
    reference = torch_scores(model, x)
    assert reference.std() > 0.1
    parity = compare_scores(simulate_nir(graph, x), reference)
    assert parity.passed and parity.predictions_agree >= 31, parity.summary()
    # the same first frame at every step is another input: the NIR graph really reads frame t at step t
    still = x[:, :1].expand_as(x)
    assert (simulate_nir(graph, still) - reference).abs().max() > 0.05
    # the importers that read the image networks (tests/test_nir_importers.py; sinabs cannot read feature maps)
    chosen = [n for n in ("snntorch", "norse", "spikingjelly") if n in installed_importers()]
    for check in check_importers(chosen, graph, x, reference, model.timesteps, 1e-4):
        assert check.loads, f"{check.importer}: {check.error}"
        assert check.parity.passed, f"{check.importer}: {check.parity.summary()}"
